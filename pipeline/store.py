"""The versioned dataset store: ``<output.dir>/<name>/{v0001, v0002, ..., latest, _work}``.

A version is built in a hidden temp folder and renamed into place, so it appears whole or
not at all; once published its files are made read-only and never rewritten. ``latest`` is a
symlink replaced atomically. One run per dataset at a time: an exclusive POSIX lock
(``lockf``) on ``.lock``, held by the run's main process only and released by the kernel when
it ends, even after ``kill -9``; the file names the holder (``pid N on HOST since T``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

VERSION_RE = re.compile(r"^v(\d{4,})$")


class LockedError(Exception):
    """Another run holds the dataset's lock (the CLI exits 75, ``EX_TEMPFAIL``)."""


#: Lock files this process holds: POSIX locks do not conflict within one process.
_HELD: set[str] = set()


def lock_owner() -> str:
    """How a lock names its holder: ``pid N on HOST since T`` (T in UTC, ISO 8601)."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"pid {os.getpid()} on {socket.gethostname()} since {since}"


@contextmanager
def hold_lock(path: Path, what: str) -> Iterator[None]:
    """An exclusive POSIX record lock (``lockf``) on ``path`` for the block.

    The lock belongs to this process alone: forked workers do not inherit it (a ``flock``
    they would), and the kernel drops it when the process ends, however it ends — so a lock
    whose owner is gone is simply taken. The file records :func:`lock_owner` for the refusal
    message; a stale record left by a dead run is overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    if key in _HELD:  # checked before opening: closing any fd of the file drops our lock
        raise LockedError(f"{what} is already locked by this process (lock: {path})")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "holder unknown"
            raise LockedError(
                f"another run of {what} is in progress ({holder}); refusing to run "
                f"concurrently — retry when it has finished (lock: {path})"
            ) from None
        _HELD.add(key)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, lock_owner().encode(), 0)
            yield
        finally:
            _HELD.discard(key)
    finally:
        os.close(fd)  # releases the lock


class DatasetStore:
    """The versions of one dataset in a local (or shared POSIX) folder ``root``.

    ``work``: intermediate shards and completion markers (default ``<root>/_work``)."""

    def __init__(self, root: Path, work: Path | None = None) -> None:
        self.root = root
        self.work = work or root / "_work"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the dataset's lock for the block; :class:`LockedError` if another run has it."""
        with hold_lock(self.root / ".lock", f"dataset {self.root.name!r}"):
            yield

    def versions(self) -> list[Path]:
        """Published versions (those with a manifest), oldest first."""
        found = [
            p
            for p in self.root.glob("v*")
            if VERSION_RE.match(p.name) and (p / "manifest.json").exists()
        ]
        return sorted(found, key=lambda p: int(p.name[1:]))

    def next_version_name(self) -> str:
        numbers = [int(m.group(1)) for p in self.root.glob("v*") if (m := VERSION_RE.match(p.name))]
        return f"v{max(numbers, default=0) + 1:04d}"

    def clean_partial_versions(self) -> None:
        """Remove temp folders of publishes that were killed (we hold the lock)."""
        for p in self.root.glob(".v*.tmp*"):
            shutil.rmtree(p, ignore_errors=True)

    def find_same_run(self, identity: str, input_sha256: list[str]) -> Path | None:
        """The newest version made from a config of this :func:`~pipeline.config.run_identity`
        and exactly these input bytes, among every published version, else None."""
        versions = self.versions()
        for version in reversed(versions):
            manifest = json.loads((version / "manifest.json").read_text("utf-8"))
            if is_same_run(manifest, identity, input_sha256):
                if version == versions[-1]:
                    self.point_latest(version)  # repairs a pointer a killed publish left
                return version
        return None

    def staging_dir(self, name: str) -> Path:
        tmp = self.root / f".{name}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        return tmp

    def commit(self, tmp: Path, name: str, executor: Any = None) -> Path:
        """Make the staged version read-only and rename it into place; update ``latest``.
        (``executor``: unused here; the remote store uploads with it.)"""
        for path in sorted(tmp.rglob("*"), reverse=True):
            if path.is_file():
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        final = self.root / name
        os.rename(tmp, final)  # fails if it exists: a published version is never replaced
        self.point_latest(final)
        return final

    def point_latest(self, version: Path) -> None:
        link = self.root / "latest"
        if link.is_symlink() and os.readlink(link) == version.name:
            return
        tmp = self.root / f".latest.tmp{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(version.name)
        os.replace(tmp, link)


def manifest_identity(manifest: dict[str, Any]) -> str | None:
    """The run identity a manifest records; for versions published before it was recorded,
    recomputed from their (resolved) config with this code's stages (None if it no longer
    resolves)."""
    from pipeline.identity import run_identity

    if "run_identity" in manifest:
        return str(manifest["run_identity"])
    try:
        return run_identity(manifest["config"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def is_same_run(manifest: dict[str, Any], identity: str, input_sha256: list[str]) -> bool:
    """Whether a version was built from a config of ``identity`` and these input bytes."""
    shas = [f["sha256"] for f in manifest.get("inputs", [])]
    return shas == input_sha256 and manifest_identity(manifest) == identity


def load_manifest(version: str | Path) -> dict[str, Any]:
    """A published version's manifest (a folder or an fsspec URL); ConfigError if none."""
    from pipeline.io.location import url_fs

    fs, path = url_fs(version)
    try:
        return json.loads(fs.cat_file(f"{path}/manifest.json"))
    except FileNotFoundError:
        raise ConfigError(f"{version}: not a published version (no manifest.json)") from None
