"""Row layouts of published data files.

Every published row has ``id, text, meta, stats``. A dataset published after a synthesis
stage also gets the columns its users load directly (the stage's ``publish_format``):

* ``sft`` — ``instruction``, ``input``, ``output`` (Alpaca style) and ``messages`` (chat
  format: a user turn and an assistant turn), for SFT trainers;
* ``instructions`` — ``instruction``, ``input`` (new tasks still to be answered);
* ``preference`` — ``prompt``, ``chosen``, ``rejected``, ``chosen_score``,
  ``rejected_score`` (the layout of TRL's DPO trainer).

The extra columns come first, so ``datasets`` shows them before the provenance columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from pipeline.plan import PlannedStage
from pipeline.record import Doc

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


def span_format(span: Sequence[PlannedStage]) -> str:
    """The layout of a dataset published after ``span``: the last one a stage declares."""
    fmt = ""
    for planned in span:
        fmt = type(planned.stage).publish_format or fmt
    return fmt


def export_columns(fmt: str, table: pa.Table) -> dict[str, pa.Array]:
    """The extra columns of layout ``fmt`` for a table with ``id, text, meta`` columns."""
    if not fmt:
        return {}
    from synth.records import instruction_of, preference_row, sft_row

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
