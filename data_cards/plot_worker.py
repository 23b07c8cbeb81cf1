"""Render the card's plots in a helper process started at the beginning of a run.

Importing matplotlib costs about half a second; a forked helper pays it while the run
reads and filters, so publishing only waits for the drawing itself.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def _serve(conn: Connection, parent_pid: int) -> None:
    from pipeline.signals import init_worker

    init_worker(parent_pid)  # dies with the run; Ctrl-C is the parent's to handle
    import matplotlib.figure  # noqa: F401  (the slow import, done while the run works)
    from matplotlib.backends import backend_agg  # noqa: F401

    from data_cards.render import render_plots

    while True:
        msg = conn.recv()
        if msg is None:
            return
        manifest, out = msg
        try:
            conn.send(("ok", [str(p) for p in render_plots(manifest, Path(out))]))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class PlotWorker:
    def __init__(self) -> None:
        self._conn, child = multiprocessing.get_context("fork").Pipe()
        self._proc = multiprocessing.get_context("fork").Process(
            target=_serve, args=(child, os.getpid()), daemon=True
        )
        self._proc.start()

    def start(self, manifest: dict[str, Any], out: Path) -> None:
        """Send the plot job; :meth:`wait` collects the result."""
        self._conn.send(({k: manifest[k] for k in ("summary", "stages")}, str(out)))

    def wait(self) -> list[str]:
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"rendering plots failed: {value}")
        return value

    def close(self) -> None:
        if self._proc.is_alive():
            self._conn.send(None)
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
