"""Turn exceptions into the one-line messages the CLI prints."""

from __future__ import annotations


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
