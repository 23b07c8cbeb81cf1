"""Turn exceptions into the one-line messages the CLI prints."""

from __future__ import annotations


def describe(exc: BaseException) -> str:
    """A clear one-line description of a run failure (no traceback)."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, BrokenProcessPool):
        return ("a worker process died (killed or out of memory); run the same command again "
                "to resume from the finished work")
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename or ''}".rstrip(": ")
    name = type(exc).__name__
    known = {"LockedError", "RunError", "AccountingError", "BackendUnavailable"}
    return str(exc) if name in known else f"{name}: {exc}"
