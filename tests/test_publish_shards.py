"""The published ``stats`` column: every stage's JSON folded into one object per row."""

from __future__ import annotations

import json

import pyarrow as pa

from pipeline.publish_shards import merge_stats


def test_merge_stats_skips_null_cells_and_keeps_every_row() -> None:
    # rows: both stages, only the first, only the second, neither (all null: pyarrow's
    # join with null_handling="skip" would drop this row)
    first = ['{"n":1}', '{"n":2}', None, None]
    second = ['{"ok":true}', None, '{"ok":false}', None]
    table = pa.table(
        {
            "id": list("abcd"),
            "stats.heuristics": pa.chunked_array([first[:2], first[2:]], pa.string()),
            "stats.langid": pa.array(second, pa.string()),
        }
    )
    merged = merge_stats(table).to_pylist()
    assert merged == [
        '{"heuristics":{"n":1},"langid":{"ok":true}}',
        '{"heuristics":{"n":2}}',
        '{"langid":{"ok":false}}',
        "{}",
    ]
    assert [json.loads(m) for m in merged][0] == {"heuristics": {"n": 1}, "langid": {"ok": True}}


def test_merge_stats_without_stats_columns() -> None:
    assert merge_stats(pa.table({"id": ["a", "b"]})).to_pylist() == ["{}", "{}"]
