"""CLI: help, stages listing, card re-rendering, diff, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.registry import STAGES
from tests.conftest import run_cli, write_config, write_jsonl


@pytest.mark.parametrize("cmd", ["run", "validate", "stages", "card", "diff"])
def test_every_command_has_help(cmd: str) -> None:
    proc = run_cli(cmd, "--help")
    assert proc.returncode == 0 and f"usage: zhcurate {cmd}" in proc.stdout


def test_bad_arguments_exit_2() -> None:
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("run").returncode == 2


def test_stages_lists_every_registered_stage_with_params() -> None:
    proc = run_cli("stages", "--json")
    assert proc.returncode == 0
    listing = {s["type"]: s for s in json.loads(proc.stdout)}
    assert set(listing) == set(STAGES)
    import dataclasses

    for name, cls in STAGES.items():
        assert [p["name"] for p in listing[name]["params"]] == [
            f.name for f in dataclasses.fields(cls)
        ]
    text = run_cli("stages").stdout
    assert all(f"{name}  (" in text for name in STAGES)


@pytest.fixture
def two_versions(tmp_path: Path) -> tuple[Path, Path]:
    src = write_jsonl(
        tmp_path / "in.jsonl", [{"id": f"r{i}", "text": f"记录{i}。"} for i in range(5)]
    )
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")
    assert run_cli("run", str(cfg)).returncode == 0
    write_jsonl(src, [{"id": f"r{i}", "text": f"记录{i}。"} for i in range(2, 8)])
    assert run_cli("run", str(cfg)).returncode == 0
    return tmp_path / "out" / "t" / "v0001", tmp_path / "out" / "t" / "v0002"


def test_card_rerenders_identically_from_manifest(two_versions, tmp_path: Path) -> None:
    v1, _ = two_versions
    out = tmp_path / "card.md"
    proc = run_cli("card", str(v1), "--out", str(out))
    assert proc.returncode == 0 and "matches the published" in proc.stderr
    assert out.read_text() == (v1 / "README.md").read_text()
    assert run_cli("card", str(tmp_path)).returncode == 2


def test_diff_counts_and_ids(two_versions) -> None:
    v1, v2 = two_versions
    proc = run_cli("diff", str(v1), str(v2), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["counts"]["a"]["kept"] == 5 and d["counts"]["b"]["kept"] == 6
    assert (d["ids_added"], d["ids_removed"], d["ids_common"]) == (3, 2, 3)
    assert d["examples_added"] == ["r5", "r6", "r7"] and d["examples_removed"] == ["r0", "r1"]
    text = run_cli("diff", str(v1), str(v2)).stdout
    assert "3 added in B" in text and "kept" in text
