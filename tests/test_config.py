"""Config validation: every error kind exits 2 with a message naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import apply_override, resolve
from pipeline.errors import ConfigError
from pipeline.identity import config_hash
from tests.conftest import REPO, run_cli, write_config, write_jsonl


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "今天天气很好。"}])


def _cfg(tmp_path: Path, data: Path, **edit) -> Path:
    cfg = yaml.safe_load(
        write_config(tmp_path / "c.yaml", [str(data)], tmp_path / "out").read_text()
    )
    cfg.update(edit)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return tmp_path / "c.yaml"


ERRORS = [
    ({"bogus": 1}, "unknown top-level key 'bogus'"),
    ({"output": {"dir": "x", "compresion_level": 3}}, "output.compresion_level: unknown key"),
    ({"input": {"paths": "notalist.jsonl"}}, "input.paths: expected list[str]"),
    ({"executor": {"workers": "two"}}, "executor.workers: expected int | null"),
    ({"executor": {"type": "spark"}}, "executor.type: expected 'local' | 'ray'"),
    ({"stages": [{"type": "no_such_stage"}]}, "stages[0].type: unknown stage 'no_such_stage'"),
    (
        {"stages": [{"type": "noop", "min_chars": 3}]},
        "stages[0] (noop).min_chars: unknown parameter",
    ),
    ({"stages": []}, "stages: required"),
    ({"stages": ["noop"]}, "stages[0]: must be a mapping with a 'type' key"),
    ({"name": ""}, "name: required"),
    ({"input": {"paths": ["does/not/exist-*.jsonl"]}}, "input.paths[0]: no file matches"),
]


@pytest.mark.parametrize("edit,message", ERRORS, ids=[m for _, m in ERRORS])
def test_config_errors_exit_2_naming_the_key(
    tmp_path: Path, data: Path, edit: dict, message: str
) -> None:
    cfg = _cfg(tmp_path, data, **edit)
    proc = run_cli("validate", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_cli("run", str(cfg)).returncode == 2


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    proc = run_cli("run", str(bad))
    assert proc.returncode == 2 and "invalid YAML" in proc.stderr
    proc = run_cli("run", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_wrong_stage_param_type(tmp_path: Path, data: Path) -> None:
    cfg = _cfg(tmp_path, data, stages=[{"type": "heuristics"}])
    proc = run_cli("validate", str(cfg), "--set", "stages.heuristics.min_chars=lots")
    assert proc.returncode == 2
    assert "stages[0] (heuristics).min_chars: expected int" in proc.stderr


def test_extends_layers_and_overrides(tmp_path: Path, data: Path) -> None:
    base = _cfg(tmp_path, data)
    child = tmp_path / "child.yaml"
    child.write_text(
        yaml.safe_dump({"extends": base.name, "name": "child", "output": {"compression_level": 9}})
    )
    cfg = resolve(child)
    assert cfg["name"] == "child"
    assert cfg["output"] == {"dir": str(tmp_path / "out"), "compression_level": 9, "work_dir": None}
    assert cfg["input"]["paths"] == [str(data)]


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="extends cycle"):
        resolve(tmp_path / "a.yaml")


def test_set_by_index_and_by_type() -> None:
    cfg = {"stages": [{"type": "normalize"}, {"type": "heuristics", "min_chars": 10}]}
    apply_override(cfg, "stages.1.min_chars=300")
    assert cfg["stages"][1]["min_chars"] == 300
    apply_override(cfg, "stages.heuristics.min_chars=50")
    assert cfg["stages"][1]["min_chars"] == 50
    apply_override(cfg, "input.paths=[a.jsonl, b.jsonl]")
    assert cfg["input"]["paths"] == ["a.jsonl", "b.jsonl"]
    with pytest.raises(ConfigError, match="no stage of type 'langid'"):
        apply_override(cfg, "stages.langid.min_score=0.5")
    with pytest.raises(ConfigError, match="no stage at index 7"):
        apply_override(cfg, "stages.7.x=1")
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        apply_override(cfg, "stages.1.min_chars")


def test_validate_prints_resolved_config_and_hash(tmp_path: Path, data: Path) -> None:
    cfg = _cfg(tmp_path, data)
    proc = run_cli("validate", str(cfg), "--set", "output.compression_level=7")
    assert proc.returncode == 0, proc.stderr
    printed = yaml.safe_load(proc.stdout)
    assert printed["output"]["compression_level"] == 7
    assert printed["input"]["shard_size"] == 10_000  # defaults are filled in
    assert (
        f"# config_hash: {config_hash(resolve(cfg, ['output.compression_level=7']))}" in proc.stdout
    )
    assert config_hash(resolve(cfg)) != config_hash(resolve(cfg, ["output.compression_level=7"]))


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_every_shipped_config_validates(name: str) -> None:
    """Each recipe in configs/ is a valid config (its input pointed at the bundled sample)."""
    cfg = resolve(REPO / "configs" / name, ["input.paths=[samples/*.jsonl]", "input.format=auto"])
    assert cfg["stages"] and cfg["name"]
