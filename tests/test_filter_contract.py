"""The Filter contract: a filter measures, the base class decides by its rule table.

Also the worker's side of the stage contract: a failed batch is retried one document at a
time on copies of the documents as they were before the batch ran, and in debug mode a stage
declaring ``edits = False`` that changes a record stops the run.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pyarrow.parquet as pq
import pytest

from filters.heuristics import Heuristics
from filters.langid import LangId
from filters.lexicon import Lexicon
from filters.quality import Quality
from pipeline.config import resolve
from pipeline.progress import Progress
from pipeline.record import Doc
from pipeline.registry import STAGES
from pipeline.runner import run
from pipeline.stage import (
    DEBUG_ENV,
    ContractError,
    Filter,
    MapStage,
    Rule,
    at_least,
    at_most,
    decide,
)
from pipeline.worker import StageStep, run_stage
from tests.conftest import write_config, write_jsonl

STEP = StageStep(params={"type": "t"}, key="t", fingerprint="f", out_dir="unused")


@dataclass(frozen=True)
class Digits(Filter):
    """Test filter: counts characters and digits; two threshold rules."""

    name: ClassVar[str] = "digits"
    rules: ClassVar[tuple[Rule, ...]] = (
        at_least("chars", "min_chars", "too_short"),
        at_most("digits", "max_digits", "too_many_digits"),
    )
    measured: ClassVar[list[int]] = []  # batch sizes measure() was called with

    min_chars: int | None = 4
    max_digits: int | None = 2

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        Digits.measured.append(len(docs))
        return [{"chars": len(d.text), "digits": sum(c.isdigit() for c in d.text)} for d in docs]


def docs_of(*texts: str) -> list[Doc]:
    return [Doc(id=f"d{i}", text=t, row=i) for i, t in enumerate(texts)]


def test_base_class_decides_from_the_rule_table() -> None:
    docs = docs_of("一二三四五", "短12345", "短", "123")
    Digits.measured.clear()
    Digits().process(docs)
    assert Digits.measured == [4]  # one batched measure call
    assert [d.stats for d in docs] == [
        {"chars": 5, "digits": 0},
        {"chars": 6, "digits": 5},
        {"chars": 1, "digits": 0},
        {"chars": 3, "digits": 3},  # fails both rules: the first one in the table is the reason
    ]
    assert [d.reason for d in docs] == [None, "too_many_digits", "too_short", "too_short"]
    relaxed = docs_of("短12345", "123")
    Digits(min_chars=None, max_digits=None).process(relaxed)  # None disables a rule
    assert [d.reason for d in relaxed] == [None, None]


def test_decide_is_a_pure_function_of_stats_rules_and_params() -> None:
    stats = {"chars": 3, "digits": 3}
    assert decide(stats, Digits.rules, Digits()) == "too_short"
    assert decide(stats, Digits.rules, Digits(min_chars=2)) == "too_many_digits"
    assert decide(stats, Digits.rules[::-1], Digits()) == "too_many_digits"
    assert decide(stats, (), Digits()) is None
    assert Digits().decide(stats) == "too_short"
    assert Digits.decision_params() == {"min_chars", "max_digits"}


@pytest.mark.parametrize("method", ["process", "process_doc", "decide"])
def test_a_filter_cannot_override_the_decision(method: str) -> None:
    with pytest.raises(TypeError, match=rf"Overrides overrides Filter\.{method}: .*measure"):
        type("Overrides", (Filter,), {method: lambda self, *a: None})


def test_measure_must_return_one_stats_dict_per_doc() -> None:
    @dataclass(frozen=True)
    class Short(Filter):
        name: ClassVar[str] = "short"

        def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
            return [{}]

    with pytest.raises(ValueError, match=r"short\.measure returned 1 stats for 2 docs"):
        Short().process(docs_of("一", "二"))


FILTERS = ["heuristics", "langid", "lexicon", "quality"]


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_keeps_the_contract(name: str) -> None:
    cls = STAGES[name]
    assert issubclass(cls, Filter) and cls.rules
    assert "measure" in vars(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    assert cls.decision_params() <= fields, "a rule reads a parameter the stage does not have"
    assert len({r.name for r in cls.rules}) == len(cls.rules)


TEXTS = [
    "长江是亚洲第一长河，也是世界第三长河，全长约六千三百公里。它发源于青藏高原的唐古拉山脉，"
    "自西向东流经青海、西藏、四川、云南、重庆、湖北、湖南、江西、安徽、江苏和上海，最后注入东海。",
    "今天天气很好。",
    "The Yangtze is the longest river in Asia and the third longest in the world.",
    "外卖送得太慢了，饭都凉了，差评！！下次不点了",
    "Transformer 是 Google 在 2017 年提出的模型架构，它完全基于注意力机制。",
    "",
]


def stored(docs: list[Doc]) -> list[dict[str, Any]]:
    """Stats as a published version stores them (the row's JSON ``stats`` column)."""
    return [orjson.loads(orjson.dumps(d.stats)) for d in docs]


@pytest.mark.parametrize(
    "stage,changed",
    [
        (Heuristics(min_chars=5), {"min_chars": 40, "min_terminal_punct": None}),
        (LangId(), {"min_score": 0.95, "languages": ["zh", "en"]}),
        (Lexicon(min_tokens=5), {"min_tokens": 2, "min_stopword_ratio": 0.3}),
    ],
    ids=["heuristics", "langid", "lexicon"],
)
def test_rules_on_stored_stats_agree_with_a_rerun_without_models(
    stage: Filter, changed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a ``whatif`` does: new thresholds on stored stats = a full rerun with them."""
    assert set(changed) <= type(stage).decision_params()
    first = docs_of(*TEXTS)
    stage.process(first)
    other = dataclasses.replace(stage, **changed)
    rerun = docs_of(*TEXTS)
    other.process(rerun)
    assert [d.reason for d in rerun] != [d.reason for d in first], "the change must matter"

    def no_models(*args: Any) -> Any:
        raise AssertionError("a model or segmenter was used")

    monkeypatch.setattr("filters.langid.load_fasttext", no_models)
    monkeypatch.setattr("filters.segment.segment", no_models)
    monkeypatch.setattr("filters.lexicon.segment", no_models)
    monkeypatch.setattr("filters.heuristics.segment", no_models)
    assert stored(rerun) == stored(first), "decision parameters must not change the stats"
    for params, docs in ((stage, first), (other, rerun)):
        fresh = dataclasses.replace(params)  # built from parameters only, never set up
        assert [decide(st, type(fresh).rules, fresh) for st in stored(first)] == [
            d.reason for d in docs
        ]


def test_quality_rule_needs_no_model() -> None:
    stage = Quality(model_path="/nonexistent/model.bin")  # never loaded: no setup, no measure
    assert [stage.decide({"score": s}) for s in (0.0499, 0.05, 0.9)] == ["low_quality", None, None]
    assert Quality(min_score=None).decide({"score": 0.0}) is None


@dataclass(frozen=True)
class Exclaim(MapStage):
    """Test stage: appends "！" to every text and counts, then fails if a text has 炸."""

    name: ClassVar[str] = "exclaim"

    def process(self, docs: list[Doc]) -> list[Doc]:
        for d in docs:
            d.text += "！"
            d.stats["n"] = d.stats.get("n", 0) + 1
            d.set_meta("shouted", d.meta.get("shouted", 0) + 1)
        if any("炸" in d.text for d in docs):
            raise ValueError("boom")
        return docs


def test_isolation_retries_each_doc_on_an_unedited_copy() -> None:
    docs = docs_of("好的。", "这里会炸。", "正常。")
    out = run_stage(Exclaim(), STEP, docs, 0)
    assert [(d.id, d.text, d.stats, d.meta_out()) for d in out if d.error is None] == [
        ("d0", "好的。！", {"n": 1}, '{"shouted":1}'),
        ("d2", "正常。！", {"n": 1}, '{"shouted":1}'),
    ]
    [broken] = [d for d in out if d.error is not None]
    assert (broken.id, broken.row, broken.text) == ("d1", 1, "这里会炸。")  # quarantined unedited
    assert broken.error.startswith("ValueError: boom (at test_filter_contract.py:")
    carried = docs_of("好的。", "这里会炸。")
    carried[0].stats["n"] = 5  # a stage's input with stats already set: copied too
    out = run_stage(Exclaim(), STEP, carried, 0)
    assert [(d.text, d.stats, d.error is None) for d in out] == [
        ("好的。！", {"n": 6}, True),
        ("这里会炸。", {}, False),
    ]


def test_filter_batch_failure_quarantines_only_the_culprit() -> None:
    """Heuristics no longer isolates by itself: the worker does, for every stage."""

    @dataclass(frozen=True)
    class Fragile(Filter):
        name: ClassVar[str] = "fragile"
        rules: ClassVar[tuple[Rule, ...]] = (at_least("chars", "min_chars", "too_short"),)
        min_chars: int = 3

        def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
            if any("炸" in d.text for d in docs):
                raise ValueError("boom")
            return [{"chars": len(d.text)} for d in docs]

    out = run_stage(Fragile(), STEP, docs_of("好的开始。", "炸", "短"), 0)
    assert [(d.id, d.stats, d.reason, d.error is not None) for d in out] == [
        ("d0", {"chars": 5}, None, False),
        ("d1", {}, None, True),
        ("d2", {"chars": 1}, "too_short", False),
    ]


@dataclass(frozen=True)
class Sneaky(MapStage):
    """Test stage: declares ``edits = False`` but changes what ``how`` says."""

    name: ClassVar[str] = "sneaky"
    edits: ClassVar[bool] = False
    how: str = "text"

    def process(self, docs: list[Doc]) -> list[Doc]:
        d = docs[-1]
        if self.how == "text":
            d.text += "！"
        elif self.how == "id":
            d.id += "x"
        elif self.how == "set_meta":
            d.set_meta("k", 2)
        elif self.how == "meta_in_place":
            d.meta["k"] = 3  # bypasses set_meta: the change is lost even for an editing stage
        elif self.how == "new_record":
            return [*docs, Doc(id="new", text="新")]
        return docs


@pytest.mark.parametrize("how", ["text", "id", "set_meta", "meta_in_place", "new_record"])
def test_debug_mode_refuses_edits_from_a_stage_that_declares_none(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def batch() -> list[Doc]:
        return [Doc(id="a", text="abc", meta_json='{"k": 1}', row=0), Doc("b", "def", row=1)]

    monkeypatch.delenv(DEBUG_ENV, raising=False)
    out = run_stage(Sneaky(how=how), STEP, batch(), 0)  # not checked: the change is lost
    assert [d.error for d in out] == [None] * len(out) and len(out) >= 2
    monkeypatch.setenv(DEBUG_ENV, "1")
    what = {"set_meta": "meta", "meta_in_place": "meta"}.get(how, how)
    match = "created record 'new'" if how == "new_record" else f"changed the {what} of record 'b'"
    with pytest.raises(ContractError, match=rf"stage 'sneaky' declares edits = False but {match}"):
        run_stage(Sneaky(how=how), STEP, batch(), 0)


def test_debug_mode_accepts_a_filter_that_only_measures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")
    docs = [Doc(id="a", text="一二三四五", meta_json='{"k": 1}', row=0), *docs_of("12345")[:1]]
    docs[1].row = 1
    _ = docs[0].meta  # parsed but not changed
    out = run_stage(Digits(), STEP, docs, 0)
    assert [d.reason for d in out] == [None, "too_many_digits"]


def test_debug_flag_of_the_cli_reaches_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run.py --debug`` sets ``$ZHCURATE_DEBUG``, which forked workers inherit."""
    import run as cli

    monkeypatch.setenv(DEBUG_ENV, "0")  # restored (unset) after the test
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "好"}])
    cfg = write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")
    assert cli.main(["validate", str(cfg)]) == 0
    assert os.environ.get(DEBUG_ENV) == "0"
    assert cli.main(["--debug", "validate", str(cfg)]) == 0
    assert os.environ.get(DEBUG_ENV) == "1"


def test_debug_run_stops_on_a_broken_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(STAGES, "sneaky", Sneaky)
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in ("好的", "很好")])
    cfg = resolve(
        write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "o", [{"type": "sneaky"}])
    )
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(ContractError, match="changed the text of record"):
        run(cfg, "c.yaml", progress=Progress(False))
    assert not list((tmp_path / "o" / "t").glob("v0*"))
    monkeypatch.delenv(DEBUG_ENV)
    [published] = run(cfg, "c.yaml", progress=Progress(False))["datasets"]
    kept = pq.read_table(Path(published["version"]) / "data").to_pylist()
    assert [r["text"] for r in kept] == ["好的", "很好"]  # without --debug: the edit is lost
