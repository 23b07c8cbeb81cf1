"""End to end: the README's main command (default config on samples/) publishes a usable
curated version, then an SFT and a preference version made by the real embedded model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("e2e")
    os.environ["ZHCURATE_LLM_CACHE"] = str(out / "llm_cache")  # a cold cache: real decoding
    try:
        proc = run_cli("run", "configs/default.yaml", "--set", f"output.dir={out}", timeout=1500)
    finally:
        del os.environ["ZHCURATE_LLM_CACHE"]
    assert proc.returncode == 0, proc.stderr
    for name in ("default", "default_sft", "default_pref"):
        assert f"published {out / name / 'v0001'}" in proc.stdout
    return out


@pytest.fixture(scope="module")
def version(out: Path) -> Path:
    return out / "default" / "v0001"


def curation_types(m: dict) -> list[str]:
    """Stage types of the config up to the curated dataset's publish point."""
    types = [s["type"] for s in m["config"]["stages"]]
    return types[: types.index("quality") + 1]


def test_counts_add_up_and_every_stage_ran(version: Path) -> None:
    m = json.loads((version / "manifest.json").read_text())
    c = m["counts"]
    assert c["input"] == 5200 == c["kept"] + c["rejected"] + c["quarantined"]
    assert 0 < c["kept"] < c["input"]
    config_types = curation_types(m)
    assert [s["type"] for s in m["stages"]] == config_types
    assert {
        "normalize",
        "langid",
        "heuristics",
        "pii",
        "dedup_exact",
        "dedup_minhash",
        "quality",
    } <= set(config_types)
    rejected = pq.read_table(version / "rejected").to_pylist()
    assert len(rejected) == c["rejected"]
    for row in rejected:
        stage, rule = row["reason"].split(":", 1)
        assert stage in config_types and rule
    dropped = {r for s in m["stages"] for r in s["dropped"]}
    assert {row["reason"] for row in rejected} == dropped


def test_kept_records_carry_every_stage_measurement(version: Path) -> None:
    kept = pq.read_table(version / "data").to_pylist()
    m = json.loads((version / "manifest.json").read_text())
    measuring = {
        "normalize",
        "langid",
        "heuristics",
        "lexicon",
        "pii",
        "dedup_exact",
        "dedup_minhash",
        "quality",
    } & {s["type"] for s in m["stages"]}
    for row in kept:
        stats = json.loads(row["stats"])
        assert measuring <= set(stats), (row["id"], set(stats))
        quality = next(s for s in m["config"]["stages"] if s["type"] == "quality")
        assert stats["quality"]["score"] >= quality["min_score"]


def test_traditional_text_is_converted_and_its_script_recorded(version: Path) -> None:
    kept = pq.read_table(version / "data").to_pylist()
    drcd = [r for r in kept if r["id"].startswith("drcd-")]
    assert drcd, "some zh-TW Wikipedia paragraphs survive the default chain"
    for row in drcd:
        assert json.loads(row["stats"])["normalize"]["script"] == "hant"
        assert "歐洲" not in row["text"] and "語" not in row["text"]


def test_loads_with_datasets_and_card_with_huggingface_hub(version: Path) -> None:
    import datasets
    from huggingface_hub import DatasetCard

    m = json.loads((version / "manifest.json").read_text())
    ds = datasets.load_dataset("parquet", data_dir=str(version / "data"), split="train")
    assert ds.num_rows == m["counts"]["kept"]
    assert ds.column_names == ["id", "text", "meta", "stats"]
    card = DatasetCard.load(version / "README.md")
    assert card.data.language == ["zh"]
    assert card.data.configs[0]["data_files"][0]["path"] == "data/*.parquet"
    text = (version / "README.md").read_text()
    for section in (
        "## Motivation",
        "## Composition",
        "## Collection",
        "## Preprocessing",
        "## Uses",
        "## Risks and PII handling",
        "## Maintenance",
    ):
        assert section in text
    for plot in ("length_hist.png", "drop_reasons.png", "quality_score.png"):
        data = (version / "plots" / plot).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
        assert f"plots/{plot}" in text


def test_synthesis_publishes_sft_and_preference_versions(out: Path, version: Path) -> None:
    import datasets
    from huggingface_hub import DatasetCard

    curated = {r["id"] for r in pq.read_table(version / "data").to_pylist()}
    sft_dir, pref_dir = out / "default_sft" / "v0001", out / "default_pref" / "v0001"
    sft_m = json.loads((sft_dir / "manifest.json").read_text())
    assert sft_m["counts"]["input"] >= 4  # 4 sampled documents, at least one pair each
    assert sft_m["counts"]["kept"] >= 1
    sft = datasets.load_dataset("parquet", data_dir=str(sft_dir / "data"), split="train")
    assert sft.column_names[:4] == ["instruction", "input", "output", "messages"]
    for row in sft:
        assert json.loads(row["meta"])["source_id"] in curated
        assert row["messages"][1] == {"role": "assistant", "content": row["output"]}
    pref_m = json.loads((pref_dir / "manifest.json").read_text())
    c = pref_m["counts"]
    assert c["input"] == sft_m["counts"]["input"] == c["kept"] + c["rejected"] + c["quarantined"]
    assert pref_m["synthesis"]["cache_misses"] == pref_m["synthesis"]["calls"] > 0
    for d in (sft_dir, pref_dir):
        card = DatasetCard.load(d / "README.md")
        assert card.data.annotations_creators == ["machine-generated"]
        assert "## Synthesis" in (d / "README.md").read_text()


def test_default_output_dir_is_gitignored() -> None:
    assert "/out/" in (REPO / ".gitignore").read_text().split()
