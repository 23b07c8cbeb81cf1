"""Issue 9: configs that would break published versions, never converge, hang or leak.

Output/work dirs inside a version or an input folder, inputs that reach the run's own
output, symlink loops, operational settings that published duplicate versions, YAML alias
bombs and oversized files, and names the filesystem cannot hold.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from pipeline.config import resolve
from pipeline.errors import ConfigError
from pipeline.identity import run_identity
from pipeline.input_paths import expand_inputs
from tests.conftest import run_cli, write_config, write_jsonl

DOCS = [{"id": str(i), "text": f"第{i}条记录，内容各不相同。"} for i in range(30)]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in" / "a.jsonl", DOCS + DOCS[:5])  # 5 exact duplicates


def _versions(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("v[0-9]*"))


# --- 8: output or work dir inside a published version or an input folder -------------------


def test_output_inside_a_published_version_is_refused(tmp_path: Path, src: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")
    assert run_cli("run", str(cfg)).returncode == 0
    version = tmp_path / "out" / "t" / "v0001"
    before = sorted(p.relative_to(version) for p in version.rglob("*"))
    for key, value in [
        ("output.dir", version / "data"),
        ("output.dir", tmp_path / "out" / "t" / "latest"),
        ("output.work_dir", version / "w"),
    ]:
        proc = run_cli("run", str(cfg), "--set", f"{key}={value}")
        assert proc.returncode == 2, proc.stderr
        assert f"{key}: " in proc.stderr and "inside the published version" in proc.stderr
        assert str(version) in proc.stderr
    # a dataset named like the version, published into the dataset folder
    proc = run_cli("run", str(cfg), "--set", "name=v0001", "--set", f"output.dir={version.parent}")
    assert proc.returncode == 2 and "inside the published version" in proc.stderr
    assert sorted(p.relative_to(version) for p in version.rglob("*")) == before


def test_output_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "a").mkdir(parents=True)
    (docs / "a" / "x.txt").write_text("今天天气很好。\n", "utf-8")
    cfg = write_config(tmp_path / "c.yaml", [str(docs)], docs / "out", input={"format": "txt"})
    proc = run_cli("validate", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert "output.dir: " in proc.stderr and f"inside the input folder {docs}" in proc.stderr


# --- 9: inputs under the run's own output are excluded (with a warning) ---------------------


def test_inputs_under_the_output_are_excluded_and_reruns_converge(
    tmp_path: Path, src: Path
) -> None:
    (tmp_path / "in" / "b.jsonl").write_text((tmp_path / "in" / "a.jsonl").read_text())
    cfg = write_config(
        tmp_path / "c.yaml", [str(tmp_path / "**" / "*.jsonl")], tmp_path / "in" / "out"
    )
    first = run_cli("run", str(cfg))
    assert first.returncode == 0, first.stderr
    # the run writes shards and markers under out/t/_work; a jsonl there would be re-read
    (tmp_path / "in" / "out" / "t" / "_work" / "stray.jsonl").write_text(
        json.dumps({"id": "z", "text": "自己的输出。"}, ensure_ascii=False) + "\n"
    )
    second = run_cli("run", str(cfg))
    assert second.returncode == 0, second.stderr
    assert "nothing new" in second.stdout
    assert "skipped 1 file" in second.stderr and "out/t" in second.stderr
    assert _versions(tmp_path / "in" / "out" / "t") == ["v0001"]
    m = json.loads((tmp_path / "in" / "out" / "t" / "v0001" / "manifest.json").read_text())
    assert [Path(i["path"]).name for i in m["inputs"]] == ["a.jsonl", "b.jsonl"]


def test_only_own_output_is_excluded_not_other_datasets(tmp_path: Path, src: Path) -> None:
    """A second dataset may read a published version of another dataset in the same dir."""
    other = write_jsonl(tmp_path / "out" / "first" / "v0001" / "data" / "x.jsonl", DOCS)
    cfg = write_config(
        tmp_path / "c.yaml", [str(tmp_path / "out" / "**" / "*.jsonl")], tmp_path / "out"
    )
    assert expand_inputs(resolve(cfg)["input"]["paths"], resolve(cfg)) == [str(other)]


# --- 10: symlink loops --------------------------------------------------------------------


def test_symlink_loops_are_visited_once_and_reported(tmp_path: Path, caplog) -> None:
    root = tmp_path / "d"
    write_jsonl(root / "sub" / "a.jsonl", DOCS[:2])
    for i in range(4):  # four loops: glob's 2^40 paths; each real file must be read once
        os.symlink(root, root / "sub" / f"loop{i}")
    (root / "alias.jsonl").symlink_to(root / "sub" / "a.jsonl")
    started = time.perf_counter()
    found = expand_inputs([str(root / "**" / "*.jsonl")])
    assert time.perf_counter() - started < 5
    assert found == [str(root / "alias.jsonl")]  # the same real file: listed once
    assert "symlink loop" in caplog.text and "loop0" in caplog.text


# --- 11: operational settings do not publish new versions ---------------------------------


STAGES = [{"type": "normalize"}, {"type": "dedup_exact"}]


def test_operational_settings_keep_one_version(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", [str(src)], out, stages=STAGES)
    runs = [
        ["executor.workers=2"],
        ["executor.workers=1"],
        ["executor.workers=2"],
        ["executor.workers=null"],
        [f"output.dir={out}/"],
        [f"output.work_dir={tmp_path / 'w'}"],
        ["stages.dedup_exact.partitions=3", "executor.max_error_fraction=0.5"],
    ]
    for overrides in runs:
        proc = run_cli("run", str(cfg), *[a for o in overrides for a in ("--set", o)])
        assert proc.returncode == 0, proc.stderr
    assert _versions(out / "t") == ["v0001"]


def test_same_run_matches_any_published_version(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", [str(src)], out, stages=[{"type": "heuristics"}])
    for v in ("min_chars=5", "min_chars=6", "min_chars=5"):
        proc = run_cli("run", str(cfg), "--set", f"stages.heuristics.{v}")
        assert proc.returncode == 0, proc.stderr
    assert "nothing new: " in proc.stdout and "v0001" in proc.stdout
    assert _versions(out / "t") == ["v0001", "v0002"]
    assert os.readlink(out / "t" / "latest") == "v0002"  # latest stays the newest


def test_partitions_change_neither_output_nor_fingerprint(tmp_path: Path, src: Path) -> None:
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "c.yaml", [str(src)], out, stages=STAGES)
    assert run_cli("run", str(cfg)).returncode == 0
    forced = run_cli("run", str(cfg), "--force", "--set", "stages.dedup_exact.partitions=3")
    assert forced.returncode == 0, forced.stderr
    m1, m2 = (json.loads((out / "t" / v / "manifest.json").read_text()) for v in ("v0001", "v0002"))
    assert [f["sha256"] for f in m1["outputs"]] == [f["sha256"] for f in m2["outputs"]]
    assert m1["run_identity"] == m2["run_identity"]
    assert m1["config"]["stages"][1]["partitions"] == 16  # provenance keeps the full config
    assert m2["config"]["stages"][1]["partitions"] == 3
    from pipeline.plan import plan_stages

    a, b = resolve(cfg), resolve(cfg, ["stages.dedup_exact.partitions=3"])
    pa_, pb = plan_stages(a, tmp_path, ["s"]), plan_stages(b, tmp_path, ["s"])
    assert [p.step.fingerprint for p in pa_] == [p.step.fingerprint for p in pb]
    assert pa_[1].step.out_dir != pb[1].step.out_dir  # scan files are per partition count
    c = resolve(cfg, ["stages.dedup_exact.normalize=none"])
    assert run_identity(c) != run_identity(a)
    assert plan_stages(c, tmp_path, ["s"])[1].step.fingerprint != pa_[1].step.fingerprint


# --- 14: YAML alias bombs and oversized files ---------------------------------------------


def test_alias_bomb_is_refused_quickly_with_a_short_message(tmp_path: Path, src: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = "\n".join(lines) + f"\nname: *a8\ninput: {{paths: [{src}]}}\nstages: [{{type: noop}}]\n"
    assert len(bomb) < 1000
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(bomb)
    started = time.perf_counter()
    proc = run_cli("validate", str(cfg))
    assert time.perf_counter() - started < 20
    assert proc.returncode == 2
    assert "expands to more than" in proc.stderr and len(proc.stderr) < 1000


def test_override_bomb_is_refused(tmp_path: Path, src: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")
    lines = ["&a0 [x,x,x,x,x,x,x,x,x]"]
    value = "[" + ",".join(["*a0"] * 9) + "]"
    with pytest.raises(ConfigError, match="expands to more than"):
        resolve(cfg, [f"card.source_datasets=[{lines[0]}, " + ", ".join([value] * 2000) + "]"])


def test_oversized_and_endless_config_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "# padding\n" * 200_000)
    proc = run_cli("validate", str(big))
    assert proc.returncode == 2 and "larger than" in proc.stderr
    proc = run_cli("validate", "/dev/zero", timeout=60)
    assert proc.returncode == 2 and "larger than" in proc.stderr and len(proc.stderr) < 500


def test_foreign_file_errors_quote_a_short_excerpt(tmp_path: Path, src: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_text("name: [" + "某" * 100_000 + "\n")
    proc = run_cli("validate", str(junk))
    assert proc.returncode == 2 and "invalid YAML" in proc.stderr and len(proc.stderr) < 1000
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")
    proc = run_cli("validate", str(cfg), "--set", "executor.workers=" + "x" * 100_000)
    assert proc.returncode == 2 and "executor.workers" in proc.stderr and len(proc.stderr) < 500


# --- 16: names the filesystem cannot hold -------------------------------------------------


NAMES = [
    ("name", "a\x00b"),
    ("name", "n" * 300),
    ("output.dir", "out\x00x"),
    ("output.dir", "out/" + "d" * 300),
    ("output.work_dir", "w\x00"),
    ("publish", "p\x00"),
    ("publish", "p" * 300),
    ("input.paths", "a\x00.jsonl"),
]


@pytest.mark.parametrize("key,value", NAMES, ids=[f"{k}-{len(v)}" for k, v in NAMES])
def test_bad_names_are_config_errors(tmp_path: Path, src: Path, key: str, value: str) -> None:
    cfg = yaml.safe_load(
        write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out").read_text()
    )
    if key == "publish":
        cfg["stages"] = [{"type": "noop", "publish": value}, {"type": "noop"}]
    elif key == "input.paths":
        cfg["input"]["paths"] = [value]
    elif "." in key:
        section, k = key.split(".")
        cfg[section][k] = value
    else:
        cfg[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))  # YAML escapes NUL as "\0"
    proc = run_cli("run", str(path))
    assert proc.returncode == 2, proc.stderr
    assert "config error" in proc.stderr and "Traceback" not in proc.stderr
    assert key.split(".")[0] in proc.stderr
    assert len(proc.stderr) < 600
