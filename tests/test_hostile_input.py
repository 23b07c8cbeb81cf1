"""Damaged, mis-encoded, unreadable and looping inputs (issue 9): nothing is lost silently.

Every complete record that can be decoded is read; damage is one quarantine row naming the
file and byte offset; read errors count against ``executor.max_error_fraction``; a file that
loses every record fails the run and ``latest`` does not move; failed reads are never cached;
change detection keys on the bytes, not on size + mtime.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import logging
import os
import random
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.config import resolve
from pipeline.io.base import InputOptions
from pipeline.io.readers import detect_format, get_reader
from pipeline.progress import Progress
from tests.conftest import run_cli, write_config, write_jsonl

FIX = Path(__file__).parent / "fixtures" / "web"
_spec = importlib.util.spec_from_file_location("web_fixtures", FIX / "make_fixtures.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"


def records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"id": f"r{i}", "text": "".join(rng.choice(HANZI) for _ in range(rng.randrange(20, 80)))}
        for i in range(n)
    ]


def jsonl_bytes(recs: list[dict], encoding: str = "utf-8") -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode(encoding)


def run_here(cfg: Path, *overrides: str) -> dict:
    """The runner in this process (faster than the CLI; RunError where the CLI exits 1)."""
    from pipeline.runner import run

    return run(resolve(str(cfg), list(overrides)), str(cfg), progress=Progress(False))


def read_all(path: Path, fmt: str | None = None, **opts) -> tuple[list, bytes]:
    seen = bytearray()
    recs = list(get_reader(fmt or detect_format(path))(path, InputOptions(**opts), seen.extend))
    return recs, bytes(seen)


def decodable_prefix(data: bytes, kind: str) -> bytes:
    """Everything a streaming decoder can recover from a cut compressed stream."""
    if kind == "gz":
        return zlib.decompressobj(wbits=31).decompress(data)
    out = bytearray()
    reader = zstandard.ZstdDecompressor().decompressobj()
    out += reader.decompress(data)
    return bytes(out)


# --- 1. truncated compressed jsonl -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_truncated_stream_keeps_every_complete_line(tmp_path: Path, kind: str) -> None:
    data = jsonl_bytes(records(8300))
    packed = gzip.compress(data) if kind == "gz" else zstandard.ZstdCompressor().compress(data)
    cut = packed[: len(packed) * 6 // 10]
    path = tmp_path / f"cut.jsonl.{kind}"
    path.write_bytes(cut)
    prefix = decodable_prefix(cut, kind)
    complete = prefix.count(b"\n")
    assert 1000 < complete < 8300  # the cut is mid-file
    recs, seen = read_all(path)
    good = [r for r in recs if r.error is None]
    assert [r.id for r in good] == [f"r{i}" for i in range(complete)]
    [torn] = [r for r in recs if r.error]
    assert torn is recs[-1] and torn.line == complete + 1
    assert f"file ends at byte {len(cut)}" in torn.error
    tail_at = prefix.rindex(b"\n") + 1
    assert f"line {complete + 1} (from byte {tail_at})" in torn.error
    assert seen == cut


def test_gzip_damage_mid_file_keeps_lines_before_it(tmp_path: Path) -> None:
    data = jsonl_bytes(records(3000))
    packed = bytearray(gzip.compress(data))
    at = len(packed) // 2
    packed[at : at + 64] = bytes(64)
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(packed))
    recs, seen = read_all(path)
    good = [r for r in recs if r.error is None]
    first_bad = next(i for i, r in enumerate(recs) if r.error)
    assert first_bad > 1000 and recs[:first_bad] == good  # every line before the damage
    assert [r.text for r in good] == [r["text"] for r in records(3000)[:first_bad]]
    # deflate may emit garbage (malformed lines) before it notices; then one damage row
    assert "corrupt gzip data at byte" in recs[-1].error
    assert sum("corrupt gzip" in (r.error or "") for r in recs) == 1
    assert seen == bytes(packed)


def test_multi_member_gzip_reads_every_member(tmp_path: Path) -> None:
    a, b = records(50, 1), records(50, 2)
    path = tmp_path / "two.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl_bytes(a)) + gzip.compress(jsonl_bytes(b)))
    recs, _ = read_all(path)
    assert [r.text for r in recs] == [r["text"] for r in a + b]


# --- 2. torn record at the end of an uncompressed WARC ----------------------------------------


@pytest.mark.parametrize("keep", [3, 12, 80, 200, -30])
def test_torn_record_at_end_of_plain_warc_is_reported(tmp_path: Path, keep: int) -> None:
    recs = fx.sample_warc()
    whole = b"".join(recs)
    start = len(whole) - len(recs[-1])
    cut = whole[: start + keep] if keep > 0 else whole[:keep]
    path = tmp_path / "torn.warc"
    path.write_bytes(cut)
    out, seen = read_all(path, "warc")
    full, _ = read_all(_write(tmp_path / "full.warc", whole), "warc")
    assert [r.line for r in out[:-1]] == [r.line for r in full[:-1]]
    last = out[-1]
    assert last.line == len(recs) and last.error
    assert "torn" in last.error or "truncated" in last.error
    assert seen == cut


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- 3. encodings, read errors and max_error_fraction -----------------------------------------


def test_utf8_bom_first_line_is_read(tmp_path: Path) -> None:
    recs = records(3)
    path = _write(tmp_path / "bom.jsonl", b"\xef\xbb\xbf" + jsonl_bytes(recs))
    got, _ = read_all(path)
    assert [(r.id, r.error) for r in got] == [(r["id"], None) for r in recs]
    txt = _write(tmp_path / "bom.txt", "\ufeff第一篇。".encode())
    [doc], _ = read_all(txt)
    assert doc.text == "第一篇。"


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "big5", "big5hkscs"])
def test_declared_encodings(tmp_path: Path, encoding: str) -> None:
    texts = ["北京今天晴。", "臺北捷運通車。"] if encoding.startswith("big5") else ["北京今天晴。"]
    recs = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    path = _write(tmp_path / "x.jsonl", jsonl_bytes(recs, encoding))
    got, _ = read_all(path, encoding=encoding)
    assert [(r.text, r.error) for r in got] == [(t, None) for t in texts]
    bad, _ = read_all(path)  # as UTF-8: an error that says what to set
    assert all(r.error and "input.encoding" in r.error for r in bad)
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.txt").write_bytes(texts[0].encode(encoding))
    [doc], _ = read_all(folder, encoding=encoding)
    assert doc.text == texts[0]


def test_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", records(2))
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out", input={"encoding": "x"})
    proc = run_cli("validate", str(cfg))
    assert proc.returncode == 2 and "input.encoding" in proc.stderr


def test_all_lines_unreadable_fails_and_latest_stays(tmp_path: Path) -> None:
    good, other = records(20, 1), records(5, 2)
    src = _write(tmp_path / "a.jsonl", jsonl_bytes(good))
    ok = _write(tmp_path / "b.jsonl", "".join(json.dumps(r) + "\n" for r in other).encode())
    cfg = write_config(tmp_path / "c.yaml", [str(src), str(ok)], tmp_path / "out")
    assert run_here(cfg)["status"] == "published"
    latest = tmp_path / "out" / "t" / "latest"
    before = os.readlink(latest) if latest.is_symlink() else latest.read_text()
    src.write_bytes(jsonl_bytes(good, "gbk"))  # every line now invalid UTF-8
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 1, proc.stdout
    assert str(src) in proc.stderr and "input.encoding" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "t" / "v0002").exists()
    after = os.readlink(latest) if latest.is_symlink() else latest.read_text()
    assert after == before
    assert run_here(cfg, "input.encoding=gbk")["status"] == "published"
    kept = pq.read_table(tmp_path / "out" / "t" / "v0002" / "data").to_pylist()
    assert sorted(r["text"] for r in kept) == sorted(r["text"] for r in good + other)


def test_read_errors_count_against_max_error_fraction(tmp_path: Path) -> None:
    lines = jsonl_bytes(records(18)) + b'{"id": "x", "text": \n{"id": "y"}\n'  # 2 of 20 bad
    src = _write(tmp_path / "a.jsonl", lines)
    cfg = write_config(
        tmp_path / "c.yaml", [str(src)], tmp_path / "out", executor={"max_error_fraction": 0.05}
    )
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 1
    assert "read quarantined 2 of 20 records" in proc.stderr and str(src) in proc.stderr
    assert not (tmp_path / "out" / "t" / "v0001").exists()
    assert run_here(cfg, "executor.max_error_fraction=0.2")["status"] == "published"
    m = json.loads((tmp_path / "out" / "t" / "v0001" / "manifest.json").read_text())
    assert m["counts"] == {"input": 20, "kept": 18, "rejected": 0, "quarantined": 2}


# --- 4. failed reads are not cached ---------------------------------------------------------


def test_failed_read_is_not_cached(tmp_path: Path, monkeypatch) -> None:
    import pipeline.io.location as location
    from pipeline.runner import RunError, run

    src = write_jsonl(tmp_path / "a.jsonl", records(10))
    cfg = resolve(write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out"))
    real_open = location.open_binary

    def denied(path: str):
        if str(path) == str(src):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path)

    monkeypatch.setattr(location, "open_binary", denied)
    monkeypatch.setattr("pipeline.io.readers.open_binary", denied)
    with pytest.raises(RunError, match="a.jsonl"):
        run(cfg, "c.yaml", progress=Progress(False))
    assert not (tmp_path / "out" / "t" / "v0001").exists()
    monkeypatch.undo()
    result = run(cfg, "c.yaml", progress=Progress(False))
    assert result["status"] == "published"
    assert result["datasets"][0]["counts"]["kept"] == 10


def test_path_that_is_a_folder_fails_with_its_name_and_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.mkdir()
    cfg = write_config(
        tmp_path / "c.yaml", [str(path)], tmp_path / "out", input={"format": "jsonl"}
    )
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 1 and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr
    path.rmdir()
    write_jsonl(path, records(4))
    assert run_here(cfg)["datasets"][0]["counts"]["kept"] == 4


def test_fifo_at_an_input_path_fails_instead_of_blocking(tmp_path: Path) -> None:
    from pipeline.runner import RunError

    fifo = tmp_path / "a.jsonl"
    os.mkfifo(fifo)
    cfg = write_config(tmp_path / "c.yaml", [str(fifo)], tmp_path / "out")
    with pytest.raises(RunError, match="not a regular file or folder"):
        run_here(cfg)


# --- 5. change detection on the bytes ---------------------------------------------------------


def test_same_size_edit_with_mtime_restored_is_ingested(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "北京今天晴。"}])
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")
    assert run_here(cfg)["status"] == "published"
    st = src.stat()
    data = src.read_bytes().replace("晴".encode(), "雨".encode())
    assert len(data) == st.st_size
    src.write_bytes(data)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert run_here(cfg)["status"] == "published"
    version = tmp_path / "out" / "t" / "v0002"
    assert [r["text"] for r in pq.read_table(version / "data").to_pylist()] == ["北京今天雨。"]
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["inputs"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert run_here(cfg)["status"] == "unchanged"


# --- 7. corrupt parquet -----------------------------------------------------------------------


def _parquet(path: Path, n: int, groups: int) -> Path:
    table = pa.Table.from_pylist(records(n))
    pq.write_table(table, path, row_group_size=n // groups, compression="none")
    return path


def test_corrupt_row_group_is_one_error_other_groups_read(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "a.parquet", 300, 3)
    col = pq.ParquetFile(path).metadata.row_group(1).column(1)
    data = bytearray(path.read_bytes())
    start = col.data_page_offset
    data[start : start + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    recs, _ = read_all(path)
    good = [r.id for r in recs if r.error is None]
    assert good == [f"r{i}" for i in range(100)] + [f"r{i}" for i in range(200, 300)]
    [bad] = [r for r in recs if r.error]
    assert "row group 1" in bad.error and "rows 101-200" in bad.error


def test_corrupt_parquet_names_the_file_and_other_files_are_read(tmp_path: Path) -> None:
    bad = _parquet(tmp_path / "bad.parquet", 50, 1)
    bad.write_bytes(bad.read_bytes()[:-40])  # footer cut
    good = write_jsonl(tmp_path / "good.jsonl", records(30))
    cfg = write_config(tmp_path / "c.yaml", [str(bad), str(good)], tmp_path / "out")
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 1
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    done = [json.loads(p.read_text()) for p in tmp_path.glob("out/t/_work/ingest/*/done.json")]
    by_path = {m["path"]: (m["records"], m["quarantined"]) for m in done}
    assert by_path == {str(good): (30, 0), str(bad): (1, 1)}  # both read; bad is one row


# --- 10. symlink loops in txt folders ---------------------------------------------------------


def test_symlink_loop_visits_each_file_once(tmp_path: Path, caplog) -> None:
    root = tmp_path / "d"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("第一篇。", "utf-8")
    (root / "sub" / "b.txt").write_text("第二篇。", "utf-8")
    (root / "sub" / "up").symlink_to("..")
    (root / "alias.txt").symlink_to("a.txt")
    with caplog.at_level(logging.WARNING, logger="zhcurate"):
        recs, _ = read_all(root)
    assert [(r.id, r.text) for r in recs] == [("a.txt", "第一篇。"), ("sub/b.txt", "第二篇。")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "sub/up" in warnings[0] and str(root) in warnings[0]
