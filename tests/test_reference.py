"""The committed configuration reference is the one the code generates."""

from __future__ import annotations

from pathlib import Path

from pipeline.schema import SECTIONS
from zhcurate_cli.reference import field_comments, render_reference

ROOT = Path(__file__).resolve().parents[1]


def test_committed_reference_equals_generated():
    committed = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    assert committed == render_reference(), (
        "docs/configuration.md is out of date: run `python run.py reference`"
    )


def test_reference_lists_every_section_key_and_stage_parameter():
    import dataclasses

    from pipeline.registry import STAGES

    text = render_reference()
    for section, spec in SECTIONS.items():
        for key in spec:
            assert f"| `{section}.{key}` |" in text
    for name in STAGES:
        assert f"### `{name}`" in text
        for f in dataclasses.fields(STAGES[name]):
            assert f"| `{f.name}` |" in text


def test_field_comments_are_read_from_the_source():
    from dataclasses import dataclass

    @dataclass
    class Example:
        #: Records per batch, from the fastText benchmark.
        #: Second line.
        batch: int = 8
        plain: int = 1

    assert field_comments(Example) == {
        "batch": "Records per batch, from the fastText benchmark. Second line."
    }
