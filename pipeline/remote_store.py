"""Versions published to an fsspec URL (``s3://``, ``gs://``, ``abfs://``, ``file://`` ...).

Object stores have no rename, no symlink, no ``flock`` and no read-only bit, so the local
store's guarantees are kept another way:

* **whole or not at all**: a version is built in a local staging folder, its files are
  uploaded (one executor task per file, largest first), and ``manifest.json`` is uploaded
  *last*. A version exists only when its manifest does (:meth:`RemoteDatasetStore.versions`);
  a prefix without one is the upload of a killed run and is deleted by the next run before
  it publishes (it holds the lock).
* **never rewritten**: a version whose manifest exists is never written into; a name is
  re-checked just before the upload starts.
* **latest**: a small object ``LATEST`` holding the version name, written after the manifest.
* **one run at a time**: a local lock (``lockf``, this machine) plus a lock object ``.lock``
  created with exclusive create where the filesystem supports it (local, and S3 through
  conditional writes). The object records the holder's host, pid and process start time; one
  left by a dead run of this host (no such pid, or the pid now belongs to a later process) is
  taken over. A holder on another host cannot be checked from here: delete the object.

Intermediate shards, markers and the staging folder live in a POSIX ``work`` folder
(``output.work_dir``: local, or a shared filesystem when the run spans several machines).
Credentials and endpoints come from the filesystem's usual environment and fsspec config.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.io.location import url_fs
from pipeline.store import VERSION_RE, DatasetStore, LockedError, is_same_run, load_manifest

LATEST = "LATEST"
LOCK = ".lock"


@dataclass(frozen=True)
class UploadTask:
    """Copy one staged file to its place under the version's URL."""

    local: str
    url: str


def upload_file(task: UploadTask) -> None:
    fs, path = url_fs(task.url)
    fs.put_file(task.local, path)


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as ``BOOT_ID:TICKS`` (Linux ``/proc``: the boot's id and
    the start time in clock ticks since boot), or None if unknown (no such process, no /proc).
    A pid, once its process is dead, can be reused; the pair identifies one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip()
    except (OSError, IndexError):
        return None
    return f"{boot}:{int(fields[19])}"  # field 22 of stat(5); fields[0] is field 3


def lock_record() -> dict[str, Any]:
    """What the lock object says about its holder: host, pid, process start, time taken."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "start": process_start(os.getpid()),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _alive_here(owner: dict[str, Any]) -> bool:
    """Whether the lock's owner may be alive: True for another host (unknowable from here);
    on this host, whether its pid runs and (if recorded) is still the same process."""
    if owner.get("host") != socket.gethostname():
        return True
    try:
        pid = int(owner["pid"])
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError, KeyError, TypeError):
        return False
    except PermissionError:
        pass  # another user's process: alive
    started = owner.get("start")
    if started is None or process_start(os.getpid()) is None:  # not recorded / no /proc here
        return True
    return process_start(pid) == started  # None: it ended meanwhile


class RemoteDatasetStore:
    """The versions of one dataset under ``url``; intermediates in ``local_root``."""

    def __init__(self, url: str, local_root: Path) -> None:
        self.root = url.rstrip("/")
        self.local = DatasetStore(local_root)
        self.work = self.local.work
        self.fs, self._path = url_fs(self.root)

    def _p(self, *parts: str) -> str:
        return "/".join([self._path, *parts])

    def url(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    @contextmanager
    def lock(self) -> Iterator[None]:
        with self.local.lock():
            owner = lock_record()
            self._take_lock(json.dumps(owner).encode())
            try:
                yield
            finally:
                self._release_lock(owner)

    def _check_container(self) -> None:
        """The bucket (container) must exist: zhcurate never creates one (``makedirs`` on an
        object store would)."""
        from fsspec.implementations.local import LocalFileSystem

        if isinstance(self.fs, LocalFileSystem):
            return
        top = self._path.strip("/").split("/")[0]
        if not self.fs.exists(top):
            raise ConfigError(
                f"output.dir: bucket {top!r} of {self.root} not found (or not "
                "accessible with these credentials); zhcurate does not create "
                "buckets"
            )

    def _take_lock(self, owner: bytes) -> None:
        lock = self._p(LOCK)
        self._check_container()
        self.fs.makedirs(self._path, exist_ok=True)
        for _ in range(2):
            try:
                with self.fs.open(lock, "xb") as fh:
                    fh.write(owner)
                return
            except FileExistsError:
                pass
            except (NotImplementedError, ValueError):  # no exclusive create: check, then write
                if not self.fs.exists(lock):
                    self.fs.pipe_file(lock, owner)
                    return
            try:
                holder = json.loads(self.fs.cat_file(lock))
            except FileNotFoundError:
                continue  # released meanwhile
            if _alive_here(holder):
                raise LockedError(
                    f"another run of dataset {self.root.rsplit('/', 1)[-1]!r} is in progress "
                    f"(pid {holder.get('pid')} on {holder.get('host')} since "
                    f"{holder.get('since')}); refusing to run concurrently — retry when it "
                    f"has finished. If that run is dead, delete the lock object {self.url(LOCK)}"
                )
            self.fs.rm_file(lock)  # left by a killed run of this host
        raise LockedError(f"could not take the lock {self.url(LOCK)}: it keeps changing")

    def _release_lock(self, owner: dict[str, Any]) -> None:
        lock = self._p(LOCK)
        try:
            if json.loads(self.fs.cat_file(lock)) == owner:
                self.fs.rm_file(lock)
        except FileNotFoundError:
            pass

    def _names(self) -> list[str]:
        try:
            entries = self.fs.ls(self._path, detail=False)
        except FileNotFoundError:
            return []
        return [
            n for n in (e.rstrip("/").rsplit("/", 1)[-1] for e in entries) if VERSION_RE.match(n)
        ]

    def versions(self) -> list[str]:
        """URLs of the published versions (those with a manifest), oldest first."""
        published = [n for n in self._names() if self.fs.exists(self._p(n, "manifest.json"))]
        return [self.url(n) for n in sorted(published, key=lambda n: int(n[1:]))]

    def next_version_name(self) -> str:
        numbers = [int(n[1:]) for n in self._names()]
        return f"v{max(numbers, default=0) + 1:04d}"

    def clean_partial_versions(self) -> None:
        """Delete uploads of killed runs (prefixes without a manifest) and local staging."""
        self.local.clean_partial_versions()
        for name in self._names():
            if not self.fs.exists(self._p(name, "manifest.json")):
                self.fs.rm(self._p(name), recursive=True)

    def find_same_run(self, identity: str, input_sha256: list[str]) -> str | None:
        """As :meth:`DatasetStore.find_same_run`: the newest matching version's URL."""
        versions = self.versions()
        for version in reversed(versions):
            if is_same_run(load_manifest(version), identity, input_sha256):
                if version == versions[-1]:
                    self.point_latest(version.rsplit("/", 1)[-1])
                return version
        return None

    def staging_dir(self, name: str) -> Path:
        return self.local.staging_dir(name)

    def commit(self, tmp: Path, name: str, executor: Any = None) -> str:
        """Upload the staged version (manifest last), point ``LATEST`` at it; returns its URL."""
        if self.fs.exists(self._p(name, "manifest.json")):
            raise LockedError(
                f"{self.url(name)} was published meanwhile by another run; "
                "a published version is never replaced"
            )
        files = sorted(p for p in tmp.rglob("*") if p.is_file() and p.name != "manifest.json")
        self.fs.makedirs(self._p(name), exist_ok=True)
        for d in sorted({p.parent for p in files} - {tmp}):
            self.fs.makedirs(self._p(name, d.relative_to(tmp).as_posix()), exist_ok=True)
        tasks = [UploadTask(str(p), self.url(name, p.relative_to(tmp).as_posix())) for p in files]
        sizes = {t.local: Path(t.local).stat().st_size for t in tasks}
        if executor is not None:
            executor.map(upload_file, tasks, cost=lambda t: sizes[t.local])
        else:
            for t in tasks:
                upload_file(t)
        upload_file(UploadTask(str(tmp / "manifest.json"), self.url(name, "manifest.json")))
        self.point_latest(name)
        shutil.rmtree(tmp, ignore_errors=True)
        return self.url(name)

    def point_latest(self, name: str) -> None:
        path = self._p(LATEST)
        try:
            if self.fs.cat_file(path).decode().strip() == name:
                return
        except FileNotFoundError:
            pass
        self.fs.pipe_file(path, f"{name}\n".encode())


def default_work_dir(url: str) -> Path:
    """Where a run publishing to ``url`` keeps its intermediates when ``output.work_dir`` is
    not set: ``$XDG_CACHE_HOME/zhcurate/work/<hash of the URL>`` (``~/.cache`` by default)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "zhcurate" / "work" / hashlib.sha256(url.encode()).hexdigest()[:12]
