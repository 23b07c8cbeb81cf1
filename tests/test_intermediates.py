"""Integrity of ``_work``: a corrupted, truncated or missing intermediate is recomputed.

Each case runs a small chain (normalize writes full tables, heuristics deltas and rejected
rows, dedup_exact is a global stage) over bundled samples, damages one file in ``_work``
(keeping size and mtime where the case says so), plants temp files, reruns with ``--force``
and compares the published data with a clean run's.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.intermediates import clean_stale_tmp, done, files_field, verify
from tests.conftest import REPO, run_cli, write_config

STAGES = [
    {"type": "normalize"},
    {"type": "heuristics", "min_chars": 30},
    {"type": "dedup_exact"},
    {"type": "noop"},
]
INPUTS = [
    str(REPO / "samples" / "clue_corpus_small_sample.jsonl"),
    str(REPO / "samples" / "wiki_zh_tw_drcd_paragraphs.jsonl"),
]


def _config(tmp: Path, out: Path) -> Path:
    return write_config(
        tmp / "c.yaml",
        INPUTS,
        out,
        stages=STAGES,
        input={"shard_size": 400},
        executor={"workers": 2},
    )


def data_hashes(version: Path) -> dict[str, str]:
    """sha256 of every published parquet file (data, rejected, quarantine)."""
    return {
        p.relative_to(version).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(version.rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("ref")
    proc = run_cli("run", str(_config(tmp, tmp / "out")))
    assert proc.returncode == 0, proc.stderr
    return data_hashes(tmp / "out" / "t" / "v0001")


def _keep_mtime(path: Path, change: Callable[[Path], None]) -> None:
    st = path.stat()
    change(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _flip_text(path: Path) -> None:
    """Overwrite 6 bytes of UTF-8 text inside the file with other Han characters (same size)."""
    data = bytearray(path.read_bytes())
    at = data.index("的".encode())  # a common character: in every text-bearing shard
    data[at : at + 6] = "假字".encode()
    path.write_bytes(bytes(data))


def _flip_bytes(path: Path) -> None:
    """Invert 8 bytes in the middle of the file (same size)."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _one(work: Path, pattern: str) -> Path:
    found = sorted(work.glob(pattern))
    assert found, pattern
    return found[len(found) // 2]


CASES = {
    "ingest shard, bytes changed": ("ingest/*/*-00001.arrow", _flip_text),
    "stage full table, bytes changed": ("stages/normalize-*/*-00002.arrow", _flip_text),
    "stage delta, truncated": ("stages/heuristics-*/*-00001.arrow", _truncate),
    "stage output deleted, marker kept": ("stages/noop-*/*-00000.arrow", Path.unlink),
    "global state, bytes changed": ("global/dedup_exact-*/state.arrow", _flip_bytes),
    "scan output, truncated": ("global/dedup_exact-*/scan/*.arrow", _truncate),
    "rejected rows, bytes changed": ("stages/heuristics-*/*.rejected.arrow", _flip_text),
}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_intermediate_is_recomputed_with_one_warning(
    reference: dict[str, str], tmp_path: Path, case: str
) -> None:
    cfg = _config(tmp_path, tmp_path / "out")
    assert run_cli("run", str(cfg)).returncode == 0
    work = tmp_path / "out" / "t" / "_work"
    pattern, damage = CASES[case]
    victim = _one(work, pattern)
    if damage is Path.unlink:
        victim.unlink()
    else:
        _keep_mtime(victim, damage)
    stale = victim.parent / f".{victim.name}.tmp{_dead_pid()}"
    stale.write_bytes(b"half a file")
    live = victim.parent / f".other.arrow.tmp{os.getpid()}"  # this test process: alive
    live.write_bytes(b"being written")

    proc = run_cli("run", str(cfg), "--force")

    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and str(victim) in warnings[0], proc.stderr
    assert data_hashes(tmp_path / "out" / "t" / "v0002") == reference
    assert not stale.exists() and live.exists()
    again = run_cli("run", str(cfg), "--force")  # repaired: nothing left to warn about
    assert again.returncode == 0 and "warning" not in again.stderr.lower(), again.stderr


def test_byte_identical_recompute_keeps_downstream_and_changed_input_reruns_it(
    tmp_path: Path,
) -> None:
    cfg = _config(tmp_path, tmp_path / "out")
    assert run_cli("run", str(cfg)).returncode == 0
    work = tmp_path / "out" / "t" / "_work"
    markers = {p: p.stat().st_mtime_ns for p in work.rglob("*done.json")}
    shard_file = _one(work, "ingest/*/*-00001.arrow")
    _keep_mtime(shard_file, _flip_text)
    shard = _one(work, "stages/heuristics-*/*.done.json")
    marker = json.loads(shard.read_text())
    marker["input"] = "0" * 32  # as if normalize's output had been recomputed to other bytes
    shard.write_text(json.dumps(marker))
    markers[shard] = shard.stat().st_mtime_ns

    proc = run_cli("run", str(cfg), "--force")
    assert proc.returncode == 0, proc.stderr

    rerun = {p for p, mtime in markers.items() if p.stat().st_mtime_ns != mtime}
    # the damaged file was re-ingested to the same bytes: no stage reran for its shards;
    # heuristics (whose recorded input differs) reran for that one shard, and its output is
    # the same bytes again, so nothing after it reran
    assert rerun == {shard_file.parent / "done.json", shard}, proc.stderr


def test_verify_names_the_problem_and_done_discards_the_marker(tmp_path: Path) -> None:
    (tmp_path / "a.arrow").write_bytes(b"abcdef")
    marker = tmp_path / "a.done.json"
    marker.write_text(json.dumps({"files": files_field(tmp_path, ["a.arrow"]), "input": "x"}))
    assert verify(marker).problem is None
    assert done(marker, input="x") is not None
    assert done(marker, input="y") is None and marker.exists()  # changed input: no discard
    (tmp_path / "a.arrow").write_bytes(b"abcdeF")
    assert "checksum mismatch" in verify(marker).problem
    (tmp_path / "a.arrow").write_bytes(b"abc")
    assert "truncated" in verify(marker).problem
    (tmp_path / "a.arrow").unlink()
    assert verify(marker).problem == f"{tmp_path / 'a.arrow'}: missing"
    assert done(marker) is None and not marker.exists()
    legacy = tmp_path / "old.done.json"
    legacy.write_text(json.dumps({"in": 3}))
    assert "no checksums" in verify(legacy).problem


def test_clean_stale_tmp_removes_only_dead_writers_files(tmp_path: Path) -> None:
    dead = tmp_path / "sub" / f".x.arrow.tmp{_dead_pid()}"
    dead.parent.mkdir()
    dead.write_bytes(b"")
    live = tmp_path / f".y.arrow.tmp{os.getpid()}"
    live.write_bytes(b"")
    other = tmp_path / ".notes.tmpfile"
    other.write_bytes(b"")
    assert clean_stale_tmp(tmp_path) == [dead]
    assert live.exists() and other.exists()
