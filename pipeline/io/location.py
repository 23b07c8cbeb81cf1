"""Input locations: local paths or any fsspec URL (``s3://``, ``gs://``, ``hdfs://``, ...).

Local paths use the standard library directly (the fast path); URLs go through fsspec, with
the filesystem's own credentials and options from the environment.
"""

from __future__ import annotations

import glob
import os
from typing import IO, Any


def is_url(path: str) -> bool:
    return "://" in str(path)


def glob_input(pattern: str) -> list[str]:
    """Existing paths matching ``pattern`` (a glob), sorted; URLs keep their protocol."""
    if not is_url(pattern):
        return sorted(glob.glob(pattern, recursive=True))
    import fsspec

    fs, _ = fsspec.core.url_to_fs(pattern)
    protocol = pattern.split("://", 1)[0]
    matches = (
        fs.glob(pattern)
        if any(c in pattern for c in "*?[")
        else ([pattern] if fs.exists(pattern) else [])
    )
    return sorted(
        m if "://" in m else f"{protocol}://{m.lstrip('/') if protocol != 'file' else m}"
        for m in matches
    )


def url_fs(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """(fsspec filesystem, path on it without a trailing slash) of a local path or URL."""
    import fsspec

    fs, inner = fsspec.core.url_to_fs(str(path))
    return fs, inner.rstrip("/")


def open_binary(path: str) -> IO[bytes]:
    """Open for reading bytes (unbuffered for local files: callers buffer)."""
    if not is_url(path):
        return open(path, "rb", buffering=0)
    import fsspec

    return fsspec.open(path, "rb").open()


def identity(path: str) -> list[Any]:
    """What changes when the content changes: (size, mtime) locally, size + etag/mtime else."""
    if not is_url(path):
        st = os.stat(path)
        return [os.path.abspath(path), st.st_size, st.st_mtime_ns]
    import fsspec

    fs, _ = fsspec.core.url_to_fs(path)
    info = fs.info(path)
    return [
        path,
        info.get("size"),
        str(info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")),
    ]
