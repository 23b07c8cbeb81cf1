"""Stages that belong to the pipeline itself rather than to a curation family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pipeline.record import Doc
from pipeline.stage import MapStage


@dataclass(frozen=True)
class Noop(MapStage):
    """Pass every record through unchanged (for benchmarks and for testing the spine)."""

    name: ClassVar[str] = "noop"
    edits: ClassVar[bool] = False

    def process(self, docs: list[Doc]) -> list[Doc]:
        return docs
