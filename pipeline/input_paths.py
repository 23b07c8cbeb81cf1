"""The input files of a run, and where a run may write.

* Local globs are expanded here rather than by :func:`glob.glob`, which follows a symlink to
  an ancestor folder again and again (four such loops under a ``**`` make 4^40 paths): a
  folder already on the current path is a *loop*, reported once and not entered; every real
  file is listed once (the first spelling, in pattern order) however many links reach it.
* A run never reads what it writes: files under its own dataset folders
  (``<output.dir>/<dataset>`` of every published dataset, its ``output.work_dir``) are left
  out of the inputs with a warning, so ``input.paths: [data/**/*.parquet]`` with
  ``output.dir: data/out`` converges instead of ingesting each new version on the next run.
* A run never writes into a published version (they are immutable) nor into an input folder
  (a folder input would read the run's output): :func:`check_output_location` refuses both.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, excerpt

log = logging.getLogger("zhcurate")


def _entries(base: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(base or ".") as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks, like glob
    except OSError:
        return False


def _dir_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path or ".")
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _walk(
    base: str, parts: list[str], chain: frozenset[tuple[int, int]], loops: list[str]
) -> Iterator[str]:
    """Paths under ``base`` matching the pattern components ``parts`` (glob semantics:
    ``*`` and ``**`` skip hidden names unless the component starts with ``.``)."""
    if not parts:
        if base:
            yield base
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _walk(base, rest, chain, loops)
        for entry in _entries(base):
            if entry.name.startswith("."):
                continue
            child = os.path.join(base, entry.name)
            if not _is_dir(entry):
                if not rest:
                    yield child
                continue
            key = _dir_key(child)
            if key is None:
                continue
            if key in chain:
                loops.append(child)
                continue
            yield from _walk(child, parts, chain | {key}, loops)
    elif glob.has_magic(head):
        for entry in _entries(base):
            if entry.name.startswith(".") and not head.startswith("."):
                continue
            if fnmatch.fnmatchcase(entry.name, head):
                child = os.path.join(base, entry.name)
                if rest and not _is_dir(entry):
                    continue
                key = _dir_key(child) if rest else None
                yield from _walk(child, rest, chain | {key} if key else chain, loops)
    else:
        child = os.path.join(base, head) if base or head else head
        if os.path.lexists(child):
            key = _dir_key(child) if rest else None
            yield from _walk(child, rest, chain | {key} if key else chain, loops)


def glob_local(pattern: str) -> tuple[list[str], list[str]]:
    """(sorted matches of a local glob, symlinks not followed because they loop)."""
    if not glob.has_magic(pattern):
        return ([pattern] if os.path.lexists(pattern) else []), []
    absolute = pattern.startswith("/")
    parts = [p for p in pattern.split("/") if p]
    base = "/" if absolute else ""
    start = _dir_key(base)
    loops: list[str] = []
    found = sorted(set(_walk(base, parts, frozenset({start}) if start else frozenset(), loops)))
    return found, sorted(set(loops))


def own_roots(config: dict[str, Any]) -> list[Path]:
    """Real paths of the local folders this run writes: each published dataset's folder
    under ``output.dir`` and under ``output.work_dir``."""
    from pipeline.io.location import is_url
    from pipeline.plan import dataset_names

    out = config["output"]
    roots = []
    for name in dataset_names(config):
        for top in (out["dir"], out["work_dir"]):
            if top is not None and not is_url(top):
                roots.append(Path(os.path.realpath(Path(top) / name)))
    return roots


def _inside(path: Path, roots: list[Path]) -> Path | None:
    return next((r for r in roots if path == r or r in path.parents), None)


def expand_inputs(
    patterns: list[str], config: dict[str, Any] | None = None, warn: bool = True
) -> list[str]:
    """Input paths/globs/URLs → existing paths, sorted within each pattern, each real file
    once; with ``config``, the run's own output folders left out (a warning says so).

    Relative local paths are resolved from the working directory."""
    from pipeline.io.location import glob_input, is_url

    roots = own_roots(config) if config is not None else []
    found: dict[str, str] = {}
    for i, pattern in enumerate(patterns):
        loops: list[str] = []
        try:
            if is_url(pattern):
                matches = glob_input(pattern)
            else:
                matches, loops = glob_local(pattern)
        except (OSError, ValueError, ImportError) as exc:
            raise ConfigError(
                f"input.paths[{i}]: cannot list {excerpt(pattern)}: {excerpt(str(exc), False)}"
            ) from None
        if loops and warn:
            log.warning(
                "input.paths[%d]: symlink loop at %s (a link to a folder it is in): not followed%s",
                i,
                loops[0],
                f", nor {len(loops) - 1} more" if len(loops) > 1 else "",
            )
        kept, skipped = [], {}
        for m in matches:
            real = m if is_url(m) else os.path.realpath(m)
            root = None if is_url(m) else _inside(Path(real), roots)
            if root is not None:
                skipped.setdefault(root, 0)
                skipped[root] += 1
            elif real not in found:
                found[real] = m
                kept.append(m)
        if skipped and warn:
            for root, n in skipped.items():
                log.warning(
                    "input.paths[%d]: skipped %d file%s under this run's own output %s "
                    "(a run never reads what it writes)",
                    i,
                    n,
                    "" if n == 1 else "s",
                    root,
                )
        if not matches or sum(skipped.values()) == len(matches):
            extra = " outside this run's own output" if matches else ""
            raise ConfigError(
                f"input.paths[{i}]: no file matches {excerpt(pattern)}{extra} "
                f"(relative paths are resolved from {Path.cwd()})"
            )
    return list(found.values())


def published_version(path: Path) -> Path | None:
    """The published version folder ``path`` is in (or is), following symlinks, else None."""
    from pipeline.store import VERSION_RE

    real = Path(os.path.realpath(path))
    for p in (real, *real.parents):
        if VERSION_RE.match(p.name) and (p / "manifest.json").is_file():
            return p
    return None


def check_output_location(config: dict[str, Any], inputs: list[str]) -> None:
    """ConfigError if ``output.dir``, ``output.work_dir`` or a dataset folder under them is
    inside a published version or inside an input folder."""
    from pipeline.io.location import is_url
    from pipeline.plan import dataset_names

    out = config["output"]
    folders = [Path(os.path.realpath(p)) for p in inputs if not is_url(p) and os.path.isdir(p)]
    for key in ("dir", "work_dir"):
        top = out[key]
        if top is None or is_url(top):
            continue
        for target in (Path(top), *(Path(top) / n for n in dataset_names(config))):
            version = published_version(target)
            if version is not None:
                raise ConfigError(
                    f"output.{key}: {target} is inside the published version {version}; "
                    "published versions are never written into: choose a folder outside it"
                )
            folder = _inside(Path(os.path.realpath(target)), folders)
            if folder is not None:
                raise ConfigError(
                    f"output.{key}: {target} is inside the input folder {folder}: the run "
                    "would read what it writes; choose a folder outside the inputs"
                )
