"""Compare two published versions: counts, per-stage differences, ids added/removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.io.location import url_fs
from pipeline.store import load_manifest


def kept_ids(version: str | Path) -> set[str]:
    fs, path = url_fs(version)
    ids: set[str] = set()
    for f in sorted(fs.glob(f"{path}/data/*.parquet")):
        ids.update(pq.read_table(f, columns=["id"], filesystem=fs)["id"].to_pylist())
    return ids


def diff_versions(a: str | Path, b: str | Path, list_ids: int = 10) -> dict[str, Any]:
    ma, mb = load_manifest(a), load_manifest(b)
    stages_a = {s["name"]: s for s in ma["stages"]}
    stages_b = {s["name"]: s for s in mb["stages"]}
    per_stage = []
    for name in list(dict.fromkeys([*stages_a, *stages_b])):
        sa, sb = stages_a.get(name), stages_b.get(name)
        entry: dict[str, Any] = {"name": name, "a": None, "b": None}
        for side, s in (("a", sa), ("b", sb)):
            if s:
                entry[side] = {
                    "in": s["in"],
                    "out": s["out"],
                    "dropped": s["dropped"],
                    "fingerprint": s["fingerprint"],
                }
        entry["same_fingerprint"] = bool(sa and sb and sa["fingerprint"] == sb["fingerprint"])
        per_stage.append(entry)
    ids_a, ids_b = kept_ids(a), kept_ids(b)
    added, removed = sorted(ids_b - ids_a), sorted(ids_a - ids_b)
    return {
        "a": str(a),
        "b": str(b),
        "counts": {"a": ma["counts"], "b": mb["counts"]},
        "config_hash_equal": ma["config_hash"] == mb["config_hash"],
        "stages": per_stage,
        "ids_added": len(added),
        "ids_removed": len(removed),
        "ids_common": len(ids_a & ids_b),
        "examples_added": added[:list_ids],
        "examples_removed": removed[:list_ids],
    }


def format_diff(d: dict[str, Any]) -> str:
    lines = [
        f"A: {d['a']}",
        f"B: {d['b']}",
        f"config: {'same' if d['config_hash_equal'] else 'different'}",
        "",
        f"{'count':<12}{'A':>10}{'B':>10}{'B-A':>10}",
    ]
    for key in ("input", "kept", "rejected", "quarantined"):
        va, vb = d["counts"]["a"][key], d["counts"]["b"][key]
        lines.append(f"{key:<12}{va:>10}{vb:>10}{vb - va:>+10}")
    lines += ["", "stage            out A     out B   same work?  dropped (B-A)"]
    for s in d["stages"]:
        oa = s["a"]["out"] if s["a"] else "-"
        ob = s["b"]["out"] if s["b"] else "-"
        reasons = sorted(
            set((s["a"] or {}).get("dropped", {})) | set((s["b"] or {}).get("dropped", {}))
        )
        delta = (
            ", ".join(
                f"{r} {((s['b'] or {}).get('dropped', {}).get(r, 0)) - ((s['a'] or {}).get('dropped', {}).get(r, 0)):+d}"  # noqa: E501
                for r in reasons
            )
            or "-"
        )
        same = "yes" if s["same_fingerprint"] else "no"
        lines.append(f"{s['name']:<14}{oa!s:>9}{ob!s:>10}   {same:<10} {delta}")
    lines += [
        "",
        f"kept ids: {d['ids_common']} common, {d['ids_added']} added in B, "
        f"{d['ids_removed']} removed in B",
    ]
    if d["examples_added"]:
        lines.append("  added:   " + ", ".join(d["examples_added"]))
    if d["examples_removed"]:
        lines.append("  removed: " + ", ".join(d["examples_removed"]))
    return "\n".join(lines)
