"""Shard tables between stages: Doc conversion and delta storage of stage outputs.

Most stages only measure and filter. Their output for a shard is stored as a *delta*: the
kept rows' positions in the upstream table (``_row``) plus the stage's own ``stats.<key>``
column, with the upstream file named in the schema metadata. A stage that rewrites text
(or creates records) stores a full table. :func:`load_output` resolves a chain of deltas
back to a full table, so intermediate storage grows with what stages change, not with
the number of stages.
"""

from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pipeline.io.arrow_files import read_ipc, write_ipc
from pipeline.record import Doc

UPSTREAM_KEY = b"zhcurate.upstream"
_ROW, _STATS = operator.attrgetter("row"), operator.attrgetter("stats")


def table_to_docs(table: pa.Table) -> tuple[list[Doc], Originals]:
    """The table's rows as docs, and their upstream values (the same lists, no extra pass)."""
    ids, texts, metas = (table.column(c).to_pylist() for c in ("id", "text", "meta"))
    docs = [
        Doc(i, t, m, {}, None, None, None, r)  # positional: a third cheaper per row
        for r, (i, t, m) in enumerate(zip(ids, texts, metas))
    ]
    return docs, Originals(ids, texts, metas)


class Originals:
    """The upstream values of a batch, to detect which columns a stage left untouched."""

    def __init__(self, ids: list[str], texts: list[str], meta_jsons: list[str]) -> None:
        self.values = {"id": ids, "text": texts, "meta_json": meta_jsons}

    @classmethod
    def of(cls, docs: list[Doc]) -> Originals:
        return cls([d.id for d in docs], [d.text for d in docs], [d.meta_json for d in docs])

    def unchanged(self, docs: list[Doc], attr: str, identity: bool) -> bool:
        """True if every doc's ``attr`` is the very same object as upstream (nothing copied).

        ``identity``: the docs are exactly the upstream rows, in order (the common case)."""
        get, values = operator.attrgetter(attr), self.values[attr]
        if identity:
            return all(map(operator.is_, map(get, docs), values))
        return all(d.row >= 0 and get(d) is values[d.row] for d in docs)


def _stats_json(doc: Doc) -> str | None:
    return orjson.dumps(doc.stats).decode() if doc.stats else None


def build_rows(
    upstream: pa.Table,
    orig: Originals | None,
    docs: list[Doc],
    key: str,
    extra: dict[str, list[Any]] | None = None,
) -> tuple[pa.Table, pa.Table | None]:
    """(full table, delta table or None) for ``docs`` after a stage ran on ``upstream``.
    ``orig`` None: the stage edits nothing (a filter), so docs are not compared with it."""
    rows = list(map(_ROW, docs))
    identity = len(rows) == upstream.num_rows and rows == list(range(len(rows)))
    if identity:
        taken: pa.Table | None = upstream
    elif all(r >= 0 for r in rows):
        taken = upstream.take(pa.array(rows, pa.int64()))
    else:
        taken = None
    cols: dict[str, Any] = {}
    untouched = taken is not None
    for name, attr in (("id", "id"), ("text", "text"), ("meta", "meta_json")):
        if taken is not None and (orig is None or orig.unchanged(docs, attr, identity)):
            cols[name] = taken[name]
            continue
        untouched = False
        values = (
            [d.meta_out() for d in docs] if name == "meta" else [getattr(d, attr) for d in docs]
        )
        cols[name] = pa.array(values, pa.string())
    carried = [c for c in upstream.column_names if c.startswith("stats.") or c == "_line"]
    for c in carried:
        if taken is not None:
            cols[c] = taken[c]
        else:
            col = upstream[c]
            cols[c] = pa.array([col[r].as_py() if r >= 0 else None for r in rows], col.type)
    own: dict[str, Any] = {}
    if any(map(_STATS, docs)):
        own[f"stats.{key}"] = pa.array([_stats_json(d) for d in docs], pa.string())
    for name, values in (extra or {}).items():
        own[name] = pa.array(values, pa.string())
    full = pa.table({**cols, **own})
    delta = pa.table({"_row": pa.array(rows, pa.int32()), **own}) if untouched else None
    return full, delta


def write_output(path: Path, full: pa.Table, delta: pa.Table | None, upstream_path: Path) -> None:
    """Write the delta (pointing at ``upstream_path``) when there is one, else the full table."""
    if delta is None:
        write_ipc(path, full)
        return
    rel = os.path.relpath(upstream_path, path.parent).encode()
    write_ipc(path, delta.replace_schema_metadata({UPSTREAM_KEY: rel}))


def load_output(path: Path) -> pa.Table:
    """A stage output as a full table (resolving delta files down to a full one)."""
    table = read_ipc(path)
    meta = table.schema.metadata or {}
    if UPSTREAM_KEY not in meta:
        return table
    base = load_output(path.parent / meta[UPSTREAM_KEY].decode())
    rows = table["_row"]
    if not (
        len(rows) == base.num_rows
        and (
            len(rows) == 0
            or rows.equals(pa.chunked_array([pa.array(range(len(rows)), pa.int32())]))
        )
    ):
        base = base.take(rows)
    for name in table.column_names:
        if name != "_row":
            base = base.append_column(name, table[name])
    return base.replace_schema_metadata(None)
