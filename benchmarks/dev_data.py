"""Where benchmarks and data-building scripts find the DEV data: one ``--data DIR`` argument.

The DEV data (real public Chinese text: ``web/``, ``sft/``, ``pref/``, ``dedup/``,
``lexicons/``) is not part of the repository. Every script takes its folder as ``--data DIR``;
the default is ``../shared/data`` relative to the repository root (the DEV data beside the
clone), never an absolute path of one development machine. A relative ``--data`` is relative
to the working directory, as usual for command-line paths.

Tests never use this: they read ``samples/`` and ``tests/fixtures/`` or generate their data.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: ``../shared/data`` beside the repository root.
DEFAULT_DATA = REPO.parent / "shared" / "data"


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--data DIR`` (the DEV data root, default ``DEFAULT_DATA``) to ``parser``."""
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        metavar="DIR",
        help="DEV data folder holding web/, sft/, dedup/, lexicons/ "
        "(default: ../shared/data beside the repository)",
    )


def data_dir(data: Path, *needed: str) -> Path:
    """``data`` once it and each of ``needed`` (paths inside it) exist; otherwise one line on
    stderr naming what is missing and exit status 2 (a usage error, not a traceback)."""
    for rel in ("", *needed):
        if not (data / rel).exists():
            what = f"{data / rel}" if rel else f"{data}"
            print(
                f"--data {data}: {what} not found; pass the DEV data folder "
                f"(default ../shared/data beside the repository)",
                file=sys.stderr,
            )
            raise SystemExit(2)
    return data


def parse_data(
    description: str | None = None, needed: tuple[str, ...] = (), argv: list[str] | None = None
) -> Path:
    """For scripts whose only argument is ``--data``: the DEV data root, checked to hold
    ``needed`` (see ``data_dir``)."""
    ap = argparse.ArgumentParser(description=description)
    add_data_argument(ap)
    return data_dir(ap.parse_args(argv).data, *needed)


#: Code that reads outside the clone: a development machine's folder, or the DEV data folder
#: spelled other than as this module's ``../`` default (``DEFAULT_DATA``).
OUTSIDE = re.compile(r"""/work/|["']shared["']\s*/\s*["']data["']|(?<!\.\./)shared/data""")


def paths_outside(folder: Path, any_mention: bool = False) -> list[str]:
    """``file:line: text`` of every line under ``folder`` (``*.py``, this module excepted)
    that reads data outside the repository; ``any_mention``: also the documented default
    (tests must not use the DEV data at all)."""
    return [
        f"{p.relative_to(REPO)}:{i}: {line.strip()}"
        for p in sorted(folder.rglob("*.py"))
        if p.resolve() != Path(__file__).resolve()
        for i, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if OUTSIDE.search(line) or (any_mention and "shared/data" in line)
    ]
