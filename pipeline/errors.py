"""Turn exceptions into the one-line messages the CLI prints."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The CLI's exit codes, defined here only (``run.py --help`` lists them, with
    :data:`EXIT_CODE_HELP`).

    75 is ``EX_TEMPFAIL`` of sysexits.h; 130 and 143 are the shell's 128 + signal number."""

    OK = 0
    FAILED = 1
    USAGE = 2
    LOCKED = 75
    SIGINT = 130
    SIGTERM = 143


#: One line per exit code, for ``--help`` and the docs.
EXIT_CODE_HELP = {
    ExitCode.OK: "published, or nothing new to publish",
    ExitCode.FAILED: "run failed; nothing published, the same command resumes",
    ExitCode.USAGE: "invalid config or arguments (found before any work)",
    ExitCode.LOCKED: "another run holds the dataset's lock (EX_TEMPFAIL): retry later",
    ExitCode.SIGINT: "stopped by Ctrl-C; workers stopped, lock released: rerun to resume",
    ExitCode.SIGTERM: "stopped by SIGTERM; workers stopped, lock released: rerun to resume",
}


#: Characters of a foreign text (a YAML error, a value) quoted in an error message.
EXCERPT_CHARS = 120


class ConfigError(Exception):
    """An invalid config or argument; the CLI prints it and exits with code 2."""


def excerpt(value: Any, quote: bool = True) -> str:
    """``repr(value)`` (``str`` if not ``quote``) cut to :data:`EXCERPT_CHARS` characters."""
    text, limit = (repr(value) if quote else str(value)), EXCERPT_CHARS
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


class StageUnavailable(RuntimeError):
    """A stage cannot run at all (e.g. its LLM engine is down after all retries): the run
    stops with this message instead of quarantining record after record. Finished work and
    the LLM cache stay, so the same command resumes once the cause is fixed."""


def describe(exc: BaseException) -> str:
    """A clear one-line description of a run failure (no traceback)."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, BrokenProcessPool):
        return (
            "a worker process died (killed or out of memory); run the same command again "
            "to resume from the finished work"
        )
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename or ''}".rstrip(": ")
    name = type(exc).__name__
    if isinstance(exc, StageUnavailable):
        return f"{exc}; finished work is kept: run the same command again to resume"
    known = {"LockedError", "RunError", "AccountingError", "IntermediateError"}
    return str(exc) if name in known else f"{name}: {exc}"
