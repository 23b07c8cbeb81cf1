"""Exact and MinHash dedup: decisions, cluster sizes, shard-split invariance, LSH parameters."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from filters.dedup.clusters import connected_components
from filters.dedup.exact import DedupExact
from filters.dedup.lsh import band_hashes, collision_probability, optimal_bands
from filters.dedup.minhash import DedupMinhash
from filters.dedup.signature import jaccard_estimate, pack_bits
from pipeline.inline import run_global
from pipeline.record import Doc

NEWS = (
    "据新华社北京7月20日电，国家统计局今天发布数据显示，上半年国内生产总值同比增长百分之五点五"
    "，"
    "经济运行总体平稳，稳中向好的态势持续发展。统计局新闻发言人表示，下半年外部环境依然复杂严峻，"
    "但我国经济长期向好的基本面没有改变，各地区各部门要继续做好稳就业、稳物价等工作。"
)
WIKI = (
    "长城是中国古代的军事防御工程，是一道高大、坚固而连绵不断的长垣，用以限隔敌骑的行动。"
    "长城不是一道单纯孤立的城墙，而是以城墙为主体，同大量的城、障、亭、标相结合的防御体系。"
    "现存的长城遗迹主要为始建于十四世纪的明长城，西起嘉峪关，东至辽东虎山。"
)
REVIEW = (
    "这家外卖送得很快，米饭还是热的，鱼香肉丝味道偏甜了一点，但是分量很足，包装也干净。"
    "骑手态度很好，下雨天还提前打电话说明情况，下次还会再点这家店的套餐，推荐给大家。"
)


def shards_of(texts: list[str], sizes: list[int]) -> list[list[Doc]]:
    """Split ``texts`` (ids = their index) into consecutive shards of the given sizes."""
    assert sum(sizes) == len(texts)
    out, i = [], 0
    for n in sizes:
        out.append([Doc(id=str(i + k), text=t) for k, t in enumerate(texts[i : i + n])])
        i += n
    return out


def run(stage, texts: list[str], sizes: list[int] | None = None) -> list[Doc]:
    shards = shards_of(texts, sizes or [len(texts)])
    run_global(stage, shards)
    return [d for s in shards for d in s]


def decisions(docs: list[Doc]) -> list[tuple[str | None, int]]:
    return [(d.reason, d.stats["dup_cluster_size"]) for d in docs]


def true_jaccard(x: str, y: str, n: int = 5) -> float:
    """Exact Jaccard of character n-gram sets."""
    a, b = ({t[i : i + n] for i in range(len(t) - n + 1)} for t in (x, y))
    return len(a & b) / len(a | b)


def edit(text: str, n: int, seed: int) -> str:
    """Replace ``n`` characters at random positions with 某."""
    rng = random.Random(seed)
    chars = list(text)
    for i in rng.sample(range(len(chars)), n):
        chars[i] = "某"
    return "".join(chars)


@pytest.mark.parametrize(
    "stage, texts, expected",
    [
        (
            DedupExact(),
            ["今天天气很好。", "今天天气很好。", "明天会下雨。"],
            [(None, 2), ("duplicate", 2), (None, 1)],
        ),
        (
            DedupExact(),
            ["北京欢迎你", "上海欢迎你", "北京欢迎你", "北京欢迎你"],
            [(None, 3), (None, 1), ("duplicate", 3), ("duplicate", 3)],
        ),
        (DedupExact(), ["北京 欢迎你", "  北京\u3000欢迎你\n"], [(None, 2), ("duplicate", 2)]),
        (
            DedupExact(normalize="none"),
            ["北京 欢迎你", "  北京\u3000欢迎你\n"],
            [(None, 1), (None, 1)],
        ),
        (DedupExact(), ["你好，世界！", "你好,世界!"], [(None, 1), (None, 1)]),
        (
            DedupExact(normalize="fold"),
            ["你好，世界！", "你好,世界!", "ＡＢＣ好", "abc好"],
            [(None, 2), ("duplicate", 2), (None, 2), ("duplicate", 2)],
        ),
        (
            DedupMinhash(),
            [NEWS, WIKI, NEWS.replace("五点五", "五点六"), NEWS + "\n责任编辑：张明"],
            [(None, 3), (None, 1), ("near_duplicate", 3), ("near_duplicate", 3)],
        ),
        (
            DedupMinhash(),
            ["好", "坏", "好", "你好", "你好吗", "今天天", "今天天气不错，适合出门散步。"],
            [
                (None, 2),
                (None, 1),
                ("near_duplicate", 2),
                (None, 1),
                (None, 1),
                (None, 1),
                (None, 1),
            ],
        ),
        (
            DedupMinhash(),
            [REVIEW, edit(REVIEW, 1, 0), edit(REVIEW, 30, 1), WIKI],
            [(None, 2), ("near_duplicate", 2), (None, 1), (None, 1)],
        ),
    ],
)
def test_decisions(stage, texts, expected) -> None:
    assert decisions(run(stage, texts)) == expected


@pytest.mark.parametrize("stage", [DedupExact(), DedupMinhash()])
def test_same_kept_ids_for_any_shard_split(stage) -> None:
    base = [NEWS, WIKI, REVIEW, "好", "坏"]
    texts = base + [edit(NEWS, 2, 5), "好", WIKI, edit(REVIEW, 1, 6), NEWS, "坏", "新的一天"] * 2
    splits = [[len(texts)], [5, 7, len(texts) - 12], [1] * len(texts), [len(texts) - 1, 1]]
    results = []
    for sizes in splits:
        docs = run(stage, texts, sizes)
        results.append([(d.id, d.reason, d.stats["dup_cluster_size"]) for d in docs])
    assert all(r == results[0] for r in results[1:])
    kept = [d for d, reason, _ in results[0] if reason is None]
    assert kept[:5] == ["0", "1", "2", "3", "4"]  # first occurrences win


@pytest.mark.parametrize("cls", [DedupExact, DedupMinhash])
def test_same_decisions_at_any_partition_count(cls) -> None:
    texts = [
        NEWS,
        WIKI,
        REVIEW,
        "好",
        edit(NEWS, 2, 5),
        "好",
        WIKI,
        edit(REVIEW, 1, 6),
        NEWS,
        "坏",
        "新的一天",
    ] * 3
    results = {}
    for parts in (1, 3, cls().partitions, 97):
        docs = run(cls(partitions=parts), texts, [7, 11, len(texts) - 18])
        results[parts] = [(d.id, d.reason, d.stats["dup_cluster_size"]) for d in docs]
    assert len({tuple(r) for r in results.values()}) == 1
    assert sum(reason is not None for _, reason, _ in results[1]) > 10  # duplicates were found


def test_finalize_ignores_partition_order() -> None:
    stage = DedupMinhash()
    texts = [NEWS, edit(NEWS, 1, 2), WIKI, edit(WIKI, 2, 3), REVIEW, REVIEW]
    scans = [stage.scan([Doc(id=str(i), text=t) for i, t in enumerate(texts)], 0)]
    import pyarrow.compute as pc

    rows = [scans[0].filter(pc.equal(scans[0]["_part"], p)) for p in range(stage.partitions)]
    parts = [stage.reduce(r) for r in rows]
    assert stage.finalize(parts).equals(stage.finalize(parts[::-1]))
    assert stage.finalize(parts).num_rows == 6


@pytest.mark.parametrize("stage", [DedupExact(), DedupMinhash()])
def test_empty_shard_and_partitions(stage) -> None:
    empty = stage.scan([], 3)
    assert empty.num_rows == 0 and "_part" in empty.column_names
    assert stage.reduce(empty).num_rows == 0
    docs = [Doc(id="a", text=NEWS), Doc(id="b", text=NEWS)]
    table = stage.scan(docs, 0)
    part = table["_part"].to_numpy()
    assert pa.types.is_integer(table["_part"].type) and part.min() >= 0
    assert part.max() < stage.partitions


def test_large_bucket_verified_greedily() -> None:
    # 300 copies (> max_group) of one review plus 30 lightly edited ones: one cluster of 330.
    texts = [REVIEW] * 300 + [edit(REVIEW, 1, i) for i in range(30)] + [WIKI]
    got = decisions(run(DedupMinhash(), texts, [200, 131]))
    assert got[0] == (None, 330)
    assert got[1:330] == [("near_duplicate", 330)] * 329
    assert got[330] == (None, 1)


def test_candidates_are_verified() -> None:
    # 64 bands of 1 row: nearly any shared shingle makes a candidate; verification rejects them.
    loose = DedupMinhash(bands=64, rows=1)
    half = NEWS[:60] + WIKI[60:]  # true J 0.30 with NEWS, 0.32 with WIKI
    sig = loose.signatures([NEWS, half, WIKI])
    buckets = band_hashes(sig, 64, 1, loose.seed)
    assert (buckets[0] == buckets[1]).any() and (buckets[1] == buckets[2]).any()
    assert decisions(run(loose, [NEWS, half, WIKI])) == [(None, 1)] * 3
    assert decisions(run(loose, [NEWS, edit(NEWS, 2, 9)])) == [(None, 2), ("near_duplicate", 2)]


def test_word_tokenizer() -> None:
    stage = DedupMinhash(tokenizer="word", ngram=3)
    got = decisions(run(stage, [NEWS, NEWS.replace("稳物价", "稳价格"), WIKI]))
    assert got == [(None, 2), ("near_duplicate", 2), (None, 1)]


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [128, 256])
def test_band_optimizer_sanity(threshold: float, num_perm: int) -> None:
    b, r = optimal_bands(threshold, num_perm)
    assert b * r <= num_perm
    midpoint = (1 / b) ** (1 / r)  # the S-curve's steepest point (1/b)^(1/r)
    assert abs(midpoint - threshold) < 0.1
    assert collision_probability(threshold + 0.15, b, r) > 0.9 or threshold + 0.15 > 1
    assert collision_probability(threshold - 0.25, b, r) < 0.1


@pytest.mark.parametrize(
    "threshold, num_perm, expected",
    [
        # datasketch 2.0.0 ``lsh._optimal_param(threshold, num_perm, 0.5, 0.5)`` (scipy quad).
        (0.7, 64, (8, 8)),
        (0.7, 128, (14, 9)),
        (0.7, 256, (25, 10)),
        (0.5, 256, (42, 6)),
        (0.8, 256, (17, 15)),
        (0.9, 256, (9, 28)),
    ],
)
def test_band_optimizer_matches_datasketch(threshold, num_perm, expected) -> None:
    assert optimal_bands(threshold, num_perm) == expected


@pytest.mark.parametrize(
    "edges, roots",
    [
        ([(5, 9), (9, 2), (7, 8)], {2: 2, 5: 2, 9: 2, 7: 7, 8: 7}),
        ([(i + 1, i) for i in range(100, 0, -1)], {i: 1 for i in range(1, 102)}),
        ([(1, 2), (3, 4), (2, 3), (10, 4)], {1: 1, 2: 1, 3: 1, 4: 1, 10: 1}),
    ],
)
def test_connected_components(edges, roots) -> None:
    a, b = (np.array(x, dtype=np.int64) for x in zip(*edges))
    nodes, root = connected_components(a, b)
    assert dict(zip(nodes.tolist(), root.tolist())) == roots


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 32])
def test_bbit_estimate(bits: int) -> None:
    near = edit(NEWS, 3, 1)
    sig = DedupMinhash().signatures([NEWS, NEWS, near, WIKI])
    packed = pack_bits(sig, bits)
    assert packed.shape == (4, 256 * bits // 8)
    est = jaccard_estimate(packed[[0, 0, 0]], packed[[1, 2, 3]], bits)
    assert est[0] == 1.0
    assert abs(est[1] - true_jaccard(NEWS, near)) < 0.12  # ≥ 2.5 standard errors at 1 bit
    assert est[2] < 0.12


@pytest.mark.parametrize(
    "cls, params",
    [
        (DedupExact, {"normalize": "lower"}),
        (DedupMinhash, {"tokenizer": "space"}),
        (DedupMinhash, {"verify_bits": 3}),
        (DedupMinhash, {"bands": 30, "rows": 10}),
        (DedupMinhash, {"threshold": 0.0}),
        (DedupExact, {"partitions": 0}),
        (DedupMinhash, {"partitions": 0}),
    ],
)
def test_bad_params(cls, params) -> None:
    with pytest.raises(ValueError):
        cls(**params)


def test_signatures_do_not_depend_on_block_or_batch_size(monkeypatch) -> None:
    # A 9,000-character document spans several blocks when a block holds 4 shingles x 256.
    long_doc = "".join(edit(NEWS, 5, i) for i in range(70))
    texts = [NEWS, "", long_doc, "好", "", WIKI]
    stage = DedupMinhash()
    whole = stage.signatures(texts)
    monkeypatch.setattr("filters.dedup.signature.BLOCK_VALUES", 4 * 256)
    assert (stage.signatures(texts) == whole).all()
    monkeypatch.setattr("filters.dedup.minhash.BATCH_CHARS", 100)
    assert (stage.signatures(texts) == whole).all()
    assert (whole[1] == 0xFFFFFFFF).all() and (whole[1] == whole[4]).all()
    assert (whole[0] != whole[5]).mean() > 0.9
