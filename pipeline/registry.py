"""The explicit stage registry: config ``type`` -> stage class (no import side effects)."""

from __future__ import annotations

from pipeline.builtin import Noop
from pipeline.stage import Stage

_CLASSES: tuple[type[Stage], ...] = (
    Noop,
)

STAGES: dict[str, type[Stage]] = {cls.name: cls for cls in _CLASSES}
