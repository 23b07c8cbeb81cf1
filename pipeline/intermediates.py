"""Integrity of ``_work``: checksums in completion markers, verified on every skip decision.

Every completion marker (``done.json`` of an ingested file, ``<shard>.done.json`` of a stage,
the scan/reduce/finalize markers of a global stage) lists under ``files`` each file its step
wrote — name relative to the marker's folder, size in bytes and the xxh3-128 hex of its bytes.
A run counts a step as done only if its marker parses and every listed file exists with that
size and hash (:func:`done`). Otherwise the marker is discarded with one warning line naming
the bad file and the step is recomputed; a step recomputed to the same bytes leaves the steps
after it done (their markers record the hash of the input they were computed from).

Temp files of writes that never finished (``.<name>.tmp<PID>``, see ``arrow_files``) whose
process is gone are removed at the start of the next run (:func:`clean_stale_tmp`).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

log = logging.getLogger("zhcurate")

#: The hash recorded per file; xxh3-128 runs at memory speed (see docs/performance.md).
HASH = "xxh3_128"
_TMP = re.compile(r"^\..+\.tmp(\d+)$")


def file_hash(path: Path) -> str:
    """xxh3-128 hex of the file's bytes (memory-mapped: no copy into Python)."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return xxhash.xxh3_128_hexdigest(b"")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return xxhash.xxh3_128_hexdigest(mm)


def files_field(folder: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """A marker's ``files`` value: ``{name: {"bytes": size, "xxh3_128": hex}}`` for the files
    ``names`` (relative to ``folder``, the marker's folder), in name order."""
    out = {}
    for name in sorted(names):
        path = folder / name
        out[name] = {"bytes": path.stat().st_size, HASH: file_hash(path)}
    return out


def output_hash(marker: dict[str, Any], name: str) -> str:
    """The recorded hash of file ``name`` of a (verified) marker."""
    return marker["files"][name][HASH]


@dataclass(frozen=True)
class Verdict:
    """``marker``: the parsed marker when the step is done, else None. ``problem``: why a
    marker that exists does not count (naming the file), None when done or never done."""

    marker: dict[str, Any] | None
    problem: str | None = None


def verify(marker_path: Path) -> Verdict:
    """Check a marker and every file it lists (existence, size in bytes, xxh3-128)."""
    if not marker_path.exists():
        return Verdict(None)
    try:
        marker = json.loads(marker_path.read_text("utf-8"))
    except (OSError, ValueError):
        return Verdict(None, f"{marker_path}: unreadable completion marker")
    files = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(files, dict):
        return Verdict(None, f"{marker_path}: marker has no checksums (older version)")
    for name, want in files.items():
        path = marker_path.parent / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return Verdict(None, f"{path}: missing")
        if size != want["bytes"]:
            return Verdict(None, f"{path}: truncated ({size} bytes, marker says {want['bytes']})")
        if file_hash(path) != want[HASH]:
            return Verdict(None, f"{path}: checksum mismatch (corrupted)")
    return Verdict(marker)


def done(marker_path: Path, **expect: str | None) -> dict[str, Any] | None:
    """The marker if its step is done, else None (the step must be recomputed).

    A marker whose files fail :func:`verify` is deleted with one warning line naming the
    file. ``expect``: marker fields that must equal the given values (e.g. ``input``: the
    hash of the upstream file the step read); a mismatch means the upstream was recomputed
    to other bytes, so the step reruns (no warning: nothing was corrupted)."""
    verdict = verify(marker_path)
    if verdict.problem:
        log.warning("warning: %s; discarded, recomputing", verdict.problem)
        marker_path.unlink(missing_ok=True)
        return None
    marker = verdict.marker
    if marker is not None and any(marker.get(k) != v for k, v in expect.items()):
        return None
    return marker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_tmp(work: Path) -> list[Path]:
    """Remove ``.<name>.tmp<PID>`` files under ``work`` whose process is not alive on this
    host (left by a write that was killed); returns the removed paths."""
    removed = []
    if not work.is_dir():
        return removed
    for path in work.rglob(".*.tmp*"):
        m = _TMP.match(path.name)
        if m and path.is_file() and not _alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
