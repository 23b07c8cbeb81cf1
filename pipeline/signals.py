"""Stopping a run cleanly: SIGTERM like Ctrl-C, and workers that die with their parent.

systemd, Airflow and Kubernetes stop a job with SIGTERM (to the main process, or to its whole
process group / cgroup); a terminal's Ctrl-C sends SIGINT to the foreground process group.

* In the main process, :func:`handle_stop_signals` turns SIGTERM into :class:`Terminated`
  (a ``BaseException``, like ``KeyboardInterrupt``), so the same ``finally`` blocks run for
  both: the executor stops its workers, the plot helper ends, the dataset lock is released,
  and the CLI prints one line and exits 143 (SIGTERM) or 130 (SIGINT). A second signal during
  that clean-up exits at once (``os._exit``): the workers still die (below) and the kernel
  still releases the lock.
* In every worker process, :func:`init_worker` (the pool initializer, and the plot helper's
  first step) asks the kernel to SIGKILL the worker when its parent dies (Linux
  ``prctl(PR_SET_PDEATHSIG)``), ignores SIGINT (the parent decides and stops the pool, so a
  Ctrl-C prints no worker tracebacks) and restores the default SIGTERM (die at once).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from types import FrameType

#: ``prctl`` option: signal sent to this process when its parent thread exits (linux/prctl.h).
PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """The run was asked to stop by a signal (SIGTERM); raised in the main thread."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: int | None = None
_installed = False


def received() -> int | None:
    """The stop signal this process received (SIGTERM or SIGINT), if any.

    The exception a handler raises can surface as another one when it interrupts C code
    (Ray's ``wait`` turns it into ``SystemError``): the CLI asks this instead."""
    return _received


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """First SIGTERM/SIGINT: raise in the main thread; a second one: exit at once."""
    global _received
    if _received is not None:
        os._exit(128 + signum)
    _received = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def handle_stop_signals() -> None:
    """Install the main process's SIGTERM and SIGINT handlers (main thread only).

    Call again after a library replaced them (``ray.init`` installs its own SIGTERM handler,
    which would exit without stopping anything)."""
    global _received, _installed
    _received, _installed = None, True
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def restore_stop_signals() -> None:
    """Put back the handlers of :func:`handle_stop_signals` if they were installed (by the
    CLI) and a library replaced them; nothing outside the main thread or the CLI."""
    if _installed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)


def _set_pdeathsig(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def init_worker(parent_pid: int) -> None:
    """Set up a forked worker of process ``parent_pid``: die with it, leave SIGINT to it.

    ``parent_pid`` is read in the parent before the fork: if the parent died before
    ``prctl`` took effect, this worker is already orphaned and exits here."""
    _set_pdeathsig(signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if os.getppid() != parent_pid:
        os._exit(1)
