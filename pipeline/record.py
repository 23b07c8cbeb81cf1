"""The record a stage sees.

On disk a record is a row: ``id`` (stable: from the input, or ``<relative path>:<line>``),
``text``, ``meta`` (the input's other fields, a JSON string so that heterogeneous sources
share one schema) and one ``stats.<stage>`` JSON column per stage that measured something.
In memory a stage sees a :class:`Doc` and writes only its own ``stats``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Doc:
    """One record inside a stage.

    ``stats``: this stage's measurements (numbers or short strings), stored under
    ``stats.<stage>``. ``reason``: set to a rule name to reject the record (the executor
    prefixes the stage name). ``error``: set to quarantine the record (a processing error).
    """

    id: str
    text: str
    meta_json: str = "{}"
    stats: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    error: str | None = None
    _meta: dict[str, Any] | None = None
    #: Row of this doc in the stage's input (-1 for docs a stage creates); set by the executor.
    row: int = -1

    @property
    def meta(self) -> dict[str, Any]:
        """The input metadata, parsed on first access."""
        if self._meta is None:
            self._meta = orjson.loads(self.meta_json) if self.meta_json else {}
        return self._meta

    def set_meta(self, key: str, value: Any) -> None:
        """Add or change one metadata field (re-serialized when the batch is written)."""
        self.meta[key] = value
        self.meta_json = ""  # marks meta as changed

    def meta_out(self) -> str:
        """The metadata JSON to write back."""
        if self.meta_json:
            return self.meta_json
        return orjson.dumps(self._meta or {}).decode()
