"""Credentials in URLs never reach what zhcurate writes: manifest, card, validate output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.redact import REDACTED, redact_config, redact_url
from tests.conftest import run_cli, write_config, write_jsonl

URLS = [
    ("http://user:PASSWORD@host/v1", "http://***@host/v1"),
    ("http://PASSWORD@host:8080/v1", "http://***@host:8080/v1"),
    ("s3://AKIAKEY:se/cr+et@bucket/prefix", "s3://***@bucket/prefix"),
    ("https://h/x?api_key=PASSWORD&n=1", f"https://h/x?api_key={REDACTED}&n=1"),
    ("https://h/x?n=1&Token=PASSWORD#frag", f"https://h/x?n=1&Token={REDACTED}#frag"),
    (
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=PASSWORD&X-Amz-Signature=PASSWORD",
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential={REDACTED}&X-Amz-Signature={REDACTED}",
    ),
    ("https://h/x?AWSAccessKeyId=PASSWORD&sig=PASSWORD", None),
    ("https://medium.com/@alice?page=2", "https://medium.com/@alice?page=2"),
    ("http://host:8080/path/@x", "http://host:8080/path/@x"),
    ("plain/path/file.jsonl", "plain/path/file.jsonl"),
    ("https://h/search?keyword=ok&monkey=ok", "https://h/search?keyword=ok&monkey=ok"),
]


@pytest.mark.parametrize("url,expected", URLS, ids=[u for u, _ in URLS])
def test_redact_url(url: str, expected: str | None) -> None:
    out = redact_url(url)
    assert "PASSWORD" not in out and "se/cr+et" not in out
    if expected is not None:
        assert out == expected


def test_redact_url_inside_text_and_config() -> None:
    msg = "openai backend at http://u:PASSWORD@h/v1 failed; see s3://K:PASSWORD@b/x"
    assert redact_url(msg) == "openai backend at http://***@h/v1 failed; see s3://***@b/x"
    config = {
        "stages": [{"backend": {"base_url": "http://u:PASSWORD@h/v1", "api_key": "PASSWORD"}}],
        "input": {"paths": ["s3://K:PASSWORD@b/*.jsonl", "local.jsonl"]},
        "n": 3,
        "flag": None,
    }
    out = redact_config(config)
    assert "PASSWORD" not in json.dumps(out)
    assert out["input"]["paths"][1] == "local.jsonl" and out["n"] == 3 and out["flag"] is None
    assert out["stages"][0]["backend"]["api_key"] == REDACTED
    assert "PASSWORD" in json.dumps(config)  # the argument is not modified


def test_manifest_card_and_validate_carry_no_credentials(tmp_path: Path) -> None:
    """A backend URL with a password, and a card description quoting a signed URL."""
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": str(i), "text": f"第{i}条记录，内容足够长。"} for i in range(5)],
    )
    cfg = write_config(
        tmp_path / "c.yaml",
        [str(src)],
        tmp_path / "out",
        stages=[
            {"type": "heuristics", "min_chars": 1, "publish": "docs"},
            {
                "type": "synth_doc_qa",
                "sample_rate": 0.0,  # no call is made: the backend is never reached
                "backend": {
                    "type": "openai",
                    "model": "m",
                    "base_url": "http://alice:PASSWORD@127.0.0.1:9/v1?api_key=PASSWORD",
                },
            },
        ],
        card={"description": "mirrors s3://AKIA:PASSWORD@bucket/raw?X-Amz-Signature=PASSWORD"},
    )
    validate = run_cli("validate", str(cfg))
    assert validate.returncode == 0, validate.stderr
    assert "PASSWORD" not in validate.stdout and "***@127.0.0.1:9" in validate.stdout
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 0, proc.stderr
    written = [
        p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".json", ".md")
    ]
    assert any(p.name == "manifest.json" for p in written)
    for p in written:
        assert "PASSWORD" not in p.read_text("utf-8"), p
    m = json.loads((tmp_path / "out" / "docs" / "v0001" / "manifest.json").read_text())
    backend = m["config"]["stages"][1]["backend"]
    assert backend["base_url"] == f"http://***@127.0.0.1:9/v1?api_key={REDACTED}"
    assert (
        yaml.safe_load(validate.stdout.split("# config_hash")[0])["stages"][1]["backend"] == backend
    )
