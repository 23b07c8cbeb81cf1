"""Row layouts of datasets published after a synthesis stage (a stage's ``publish_format``).

Every published row has ``id, text, meta, stats``; these layouts add the columns users load
directly, before the provenance columns (so ``datasets`` shows them first):

* ``sft`` — ``instruction``, ``input``, ``output`` (Alpaca style) and ``messages`` (chat
  format: a user turn and an assistant turn), for SFT trainers;
* ``instructions`` — ``instruction``, ``input`` (new tasks still to be answered);
* ``preference`` — ``prompt``, ``chosen``, ``rejected``, ``chosen_score``,
  ``rejected_score`` (the layout of TRL's DPO trainer).
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.record import Doc
from synth.records import instruction_of, preference_row, sft_row

FORMATS = ("", "sft", "instructions", "preference")

_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMAS: dict[str, pa.Schema] = {
    "sft": pa.schema(
        [
            ("instruction", pa.string()),
            ("input", pa.string()),
            ("output", pa.string()),
            ("messages", _MESSAGES),
        ]
    ),
    "instructions": pa.schema([("instruction", pa.string()), ("input", pa.string())]),
    "preference": pa.schema(
        [
            ("prompt", pa.string()),
            ("chosen", pa.string()),
            ("rejected", pa.string()),
            ("chosen_score", pa.float64()),
            ("rejected_score", pa.float64()),
        ]
    ),
}


def layout_columns(fmt: str, table: pa.Table) -> dict[str, pa.Array]:
    """The extra columns of layout ``fmt`` for a table with ``id, text, meta`` columns."""
    if not fmt:
        return {}
    docs = [
        Doc(i, t, m)
        for i, t, m in zip(
            table["id"].to_pylist(), table["text"].to_pylist(), table["meta"].to_pylist()
        )
    ]
    if fmt == "sft":
        rows = [sft_row(d) for d in docs]
    elif fmt == "instructions":
        rows = [dict(zip(("instruction", "input"), instruction_of(d))) for d in docs]
    elif fmt == "preference":
        rows = [preference_row(d) for d in docs]
    else:
        raise ValueError(f"unknown publish format {fmt!r}; use one of {FORMATS}")
    schema = SCHEMAS[fmt]
    return {f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}


class PublishedLayout:
    """Mixin for synthesis stages: the published columns of the stage's ``publish_format``."""

    publish_format: str

    @classmethod
    def export_columns(cls, table: pa.Table) -> dict[str, pa.Array]:
        """See :meth:`pipeline.stage.Stage.export_columns`."""
        return layout_columns(cls.publish_format, table)
