"""Local files: folder traversal that visits each real file once, and content identity.

:func:`walk_files` follows symlinks but resolves real paths: a folder reached a second time
(a ``sub/up -> ..`` loop, or a second link to the same folder) is skipped and reported, and a
file reached through two names is read once (under the first name in sorted order).

:func:`content_identity` is what input change detection keys on: a hash of the bytes (of a
file, or of every file of a folder with its relative name), not size + mtime, which an edit
can keep (same-size edit, mtime restored). The hash is xxh3-128, not sha256: it only has to
notice change, and it runs at disk speed (21.7 MB dev corpus: 33 ms against 86 ms for
sha256); the manifest's sha256 is computed from the bytes the reader reads.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from pipeline.io.location import identity, is_url

log = logging.getLogger("zhcurate")
HASH_CHUNK = 1 << 20  # bytes per read while hashing


@dataclass(frozen=True)
class FolderListing:
    """Files under a folder: ``files`` as (name relative to the root, path), sorted by name;
    ``skipped``: (relative name, real path) of symlinked folders not entered again."""

    root: Path
    files: list[tuple[str, Path]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def warn(self) -> None:
        """One warning line when folders were skipped (nothing when none were)."""
        if self.skipped:
            first, target = self.skipped[0]
            log.warning(
                "%s: %d symlinked folder(s) lead to a folder already visited and were "
                "skipped (a loop or a second link), first %s -> %s",
                self.root,
                len(self.skipped),
                first,
                target,
            )


def walk_files(root: str | Path, suffix: str | None = None) -> FolderListing:
    """Every regular file under ``root`` (ending in ``suffix`` if given), each real file once."""
    root = Path(root)
    listing = FolderListing(root)
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    found: list[tuple[tuple[str, ...], str, Path]] = []

    def visit(folder: Path, rel: tuple[str, ...]) -> None:
        st = folder.stat()
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            listing.skipped.append(("/".join(rel), os.path.realpath(folder)))
            return
        seen_dirs.add(key)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_dir():  # follows symlinks
                visit(path, (*rel, entry.name))
            elif entry.is_file() and (suffix is None or entry.name.endswith(suffix)):
                real = os.path.realpath(path)
                if real not in seen_files:
                    seen_files.add(real)
                    found.append(((*rel, entry.name), "/".join((*rel, entry.name)), path))

    visit(root, ())
    found.sort(key=lambda f: f[0])
    listing.files.extend((name, path) for _, name, path in found)
    return listing


def check_regular(path: str) -> None:
    """OSError unless ``path`` is a regular file or a folder (a FIFO or device would block or
    never end)."""
    st = os.stat(path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise OSError(errno.EINVAL, "not a regular file or folder", path)


def hash_file(path: str | Path, h: Any = None) -> Any:
    """Hash the bytes of one file into ``h`` (a new xxh3-128 if None); returns ``h``."""
    h = h if h is not None else xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h


def content_identity(path: str) -> list[Any]:
    """What an ingest fingerprint keys on: [absolute path, bytes, xxh3-128 of the content].

    A folder hashes each file's relative name, size and bytes (sorted, each real file once).
    URLs keep size + ETag/mtime (:func:`pipeline.io.location.identity`; hashing would mean
    downloading). An unreadable path gets the OSError text: its ingest fails and is not kept,
    so the value is never reused."""
    if is_url(path):
        return identity(path)
    try:
        check_regular(path)
        if not os.path.isdir(path):
            return [os.path.abspath(path), os.path.getsize(path), hash_file(path).hexdigest()]
        h, total = xxhash.xxh3_128(), 0
        for rel, file in walk_files(path).files:
            size = file.stat().st_size
            h.update(f"{rel}\0{size}\0".encode())
            hash_file(file, h)
            total += size
        return [os.path.abspath(path), total, h.hexdigest()]
    except OSError as exc:
        return [os.path.abspath(path), f"unreadable: {exc}"]
