"""Tests read only the repository; scripts take their DEV data folder as ``--data DIR``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.dev_data import DEFAULT_DATA, data_dir, parse_data, paths_outside
from tests.conftest import REPO


@pytest.mark.parametrize("folder", ["tests", "benchmarks", "filters"])
def test_no_data_path_outside_the_repository(folder: str) -> None:
    assert paths_outside(REPO / folder, any_mention=folder == "tests") == []


def test_default_is_beside_the_repository_and_relative_paths_are_kept(tmp_path: Path) -> None:
    assert DEFAULT_DATA.parent.parent == REPO.parent  # beside the clone, relative to it
    (tmp_path / "web").mkdir()
    assert parse_data(needed=("web",), argv=["--data", str(tmp_path)]) == tmp_path
    assert data_dir(Path("samples").resolve()) == REPO / "samples"


def test_missing_folder_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        data_dir(tmp_path, "web")
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"--data {tmp_path}: {tmp_path / 'web'} not found")


def test_a_script_takes_data_and_fails_cleanly_without_it(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "filters/data/make_quality_zh.py"), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith(
        f"--data {tmp_path}: {tmp_path / 'web'} not found; pass the DEV data folder (default "
    )
    assert len(proc.stderr.strip().splitlines()) == 1
