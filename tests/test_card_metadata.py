"""Card metadata: what the Hub checks is checked at config load, and every card round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard
from huggingface_hub.repocard import metadata_load

from data_cards.hub_metadata import (
    LICENSES,
    SIZE_CATEGORIES,
    TASK_CATEGORIES,
    card_problems,
    language_codes,
    metadata_problems,
    size_category,
)
from data_cards.render import (
    CardMetadataError,
    check_round_trip,
    front_matter,
    parse_front_matter,
    render_card,
)
from pipeline.config import ConfigError, resolve
from pipeline.store import load_manifest
from tests.conftest import REPO, run_cli, write_config, write_jsonl

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
SOURCES = ["CLUECorpusSmall (sample, via UER-py)", "DRCD", "Douban book reviews (UER-py)"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_pass_the_hub_checks(path: Path) -> None:
    card = resolve(path, check_files=False)["card"]
    assert card_problems(card) == []
    for item in card["source_datasets"]:
        assert item.count("(") == item.count(")"), item  # no item split at a comma


def test_curation_config_keeps_source_names_with_commas() -> None:
    sources = resolve(REPO / "configs" / "curation.yaml", check_files=False)["card"][
        "source_datasets"
    ]
    assert sources[0] == "CLUECorpusSmall (sample, via UER-py)" and len(sources) == 6


@pytest.mark.parametrize(
    "override,key,value",
    [
        ("card.license=Apache-2.0", "card.license", "'Apache-2.0'"),
        ("card.license=cc-by-sa", "card.license", "'cc-by-sa'"),
        ("card.task_categories=[text-gen]", "card.task_categories", "'text-gen'"),
        ("card.task_categories=[pretraining]", "card.task_categories", "'pretraining'"),
        (
            "card.source_datasets=[CLUECorpusSmall (sample, via UER-py), DRCD]",
            "card.source_datasets",
            "'CLUECorpusSmall (sample'",
        ),
        ("card.source_datasets=[' padded ']", "card.source_datasets", "' padded '"),
        ("card.pretty_name=''", "card.pretty_name", "''"),
    ],
)
def test_bad_card_field_is_a_config_error(override: str, key: str, value: str) -> None:
    proc = run_cli("validate", str(REPO / "configs" / "curation.yaml"), "--set", override, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"zhcurate: config error: {key}: {value} ")


def test_good_card_fields_pass() -> None:
    card = {
        "license": "cc-by-sa-3.0",
        "pretty_name": "A, B (c, d)",
        "task_categories": ["text-generation", "question-answering"],
        "source_datasets": SOURCES + ["extended|wikipedia"],
    }
    assert card_problems(card) == []
    assert card_problems({**card, "pretty_name": None}) == []  # None: the dataset name


@pytest.mark.parametrize(
    "n,label",
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (99_999, "10K<n<100K"),
        (100_000, "100K<n<1M"),
        (999_999_999, "100M<n<1B"),
        (1_000_000_000, "1B<n<10B"),
        (10**10, "10B<n<100B"),  # the old table said 1B<n<10B from 1B up to 1T
        (5 * 10**11, "100B<n<1T"),
        (10**12, "n>1T"),
        (10**15, "n>1T"),
    ],
)
def test_size_category_is_a_hub_value(n: int, label: str) -> None:
    assert size_category(n) == label and label in SIZE_CATEGORIES


def test_size_categories_are_exactly_the_hub_list() -> None:
    hub = "n<1K 1K<n<10K 10K<n<100K 100K<n<1M 1M<n<10M 10M<n<100M 100M<n<1B 1B<n<10B"
    assert SIZE_CATEGORIES == set(f"{hub} 10B<n<100B 100B<n<1T n>1T".split())


def test_pinned_lists_hold_the_values_we_use() -> None:
    assert {"apache-2.0", "cc-by-sa-3.0", "mit", "other", "unknown"} <= LICENSES
    assert {"text-generation", "question-answering"} <= TASK_CATEGORIES
    assert {"zh", "en", "zho", "chi", "cmn", "yue", "lzh"} <= language_codes()
    assert {"zh-CN", "chinese", "ZH", ""}.isdisjoint(language_codes())


@pytest.mark.parametrize(
    "meta,problem",
    [
        ({"language": ["zh-CN"]}, "language: 'zh-CN' is not an ISO 639-1/2/3 code"),
        ({"language": "zh"}, "language: expected a list of strings, got 'zh'"),
        ({"size_categories": ["1B<n<1T"]}, "size_categories: '1B<n<1T' is not a Hub size"),
        ({"annotations_creators": ["none"]}, "annotations_creators: 'none' is not a Hub"),
        ({"multilinguality": ["mono"]}, "multilinguality: 'mono' is not a Hub"),
        ({"task_ids": ["lm"]}, "task_ids: 'lm' is not a Hub task id"),
        ({"license": ["mit", "BSD"]}, "license: 'BSD' is not a Hub license id"),
    ],
)
def test_metadata_problems_name_key_and_value(meta: dict, problem: str) -> None:
    (line,) = metadata_problems(meta)
    assert line.startswith(problem)


@pytest.fixture(scope="module")
def version(tmp_path_factory) -> Path:
    """A real published version whose card has source names with commas."""
    tmp = tmp_path_factory.mktemp("card")
    src = write_jsonl(tmp / "in.jsonl", [{"id": f"r{i}", "text": f"记录{i}。"} for i in range(5)])
    cfg = write_config(
        tmp / "c.yaml",
        [str(src)],
        tmp / "out",
        card={"license": "cc-by-sa-3.0", "source_datasets": SOURCES},
    )
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 0, proc.stderr
    return tmp / "out" / "t" / "v0001"


def test_published_card_round_trips_through_huggingface_hub(version: Path) -> None:
    manifest = load_manifest(str(version))
    meant = front_matter(manifest)
    assert metadata_load(version / "README.md") == meant
    text = (version / "README.md").read_text("utf-8")
    assert parse_front_matter(text) == DatasetCard(text).data.to_dict() == meant
    card = DatasetCard.load(version / "README.md")
    assert card.data.source_datasets == SOURCES
    assert card.data.size_categories == ["n<1K"] and card.data.license == "cc-by-sa-3.0"
    assert (version / "README.md").read_text("utf-8") == render_card(manifest)
    assert metadata_problems(meant) == []


def test_round_trip_check_catches_a_flow_list_split() -> None:
    meant = {"license": "mit", "source_datasets": ["A (x, y)"]}
    flow = "---\nlicense: mit\nsource_datasets: [A (x, y)]\n---\n\nbody\n"
    with pytest.raises(CardMetadataError, match=r"source_datasets: rendered \['A \(x, y\)'\]"):
        check_round_trip(flow, meant)
    block = "---\n" + yaml.safe_dump(meant, sort_keys=False) + "---\n\nbody\n"
    check_round_trip(block, meant)


def test_round_trip_check_rejects_what_the_hub_rejects() -> None:
    meant = {"license": "mit", "size_categories": ["1B<n<1T"]}
    card = "---\n" + yaml.safe_dump(meant, sort_keys=False) + "---\n"
    with pytest.raises(CardMetadataError, match="size_categories: '1B<n<1T'"):
        check_round_trip(card, meant)


def test_resolve_raises_one_config_error(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.yaml", ["x.jsonl"], tmp_path / "out", card={"license": "Apache 2.0"}
    )
    with pytest.raises(ConfigError, match=r"^card.license: 'Apache 2.0' is not a Hub license id"):
        resolve(cfg, check_files=False)


def test_a_card_without_metadata_is_an_error() -> None:
    with pytest.raises(CardMetadataError, match="no YAML mapping"):
        check_round_trip("# title\n\nno front matter\n", {"license": "mit"})
