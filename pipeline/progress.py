"""Progress bars (tqdm on a terminal) and a one-line log per finished phase otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm


class _Bar:
    def __init__(self, desc: str, total: int | None, unit: str, initial: int, show: bool) -> None:
        self.desc, self.unit, self.count, self.started = desc, unit, initial, time.perf_counter()
        self._tqdm = (
            tqdm(
                desc=desc,
                total=total,
                unit=unit,
                initial=initial,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )
            if show
            else None
        )

    def update(self, n: int) -> None:
        self.count += n
        if self._tqdm is not None:
            self._tqdm.update(n)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()


class Progress:
    """Factory of bars. ``show=None`` shows bars only when stderr is a terminal."""

    def __init__(self, show: bool | None = None, quiet: bool = False) -> None:
        self.show = sys.stderr.isatty() if show is None else show
        self.quiet = quiet
        self.log: list[dict[str, Any]] = []

    def bar(self, desc: str, total: int | None = None, unit: str = "rec", initial: int = 0) -> _Bar:
        return _Bar(desc, total, unit, initial, self.show and not self.quiet)
