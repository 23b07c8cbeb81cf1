"""Near-duplicate test pairs made from real DEV documents by controlled edits (for
``benchmarks/dedup_quality.py``), with each pair's exact character 5-gram Jaccard."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

#: Longer, mostly clean documents: news, wiki, CC web text.
SOURCES = (
    "clue_corpus_small_sample",
    "sogoucs_smarty_sample",
    "wiki_zh_cmrc2018_paragraphs",
    "wiki_zh_tw_drcd_paragraphs",
    "chinesewebtext_cc_raw",
)
BOILERPLATE = (
    "点击上方蓝字关注我们",
    "本文来源：网络，版权归原作者所有，如有侵权请联系删除。",
    "责任编辑：张明",
    "扫描二维码，关注公众号，获取更多精彩内容！",
    "阅读原文",
    "版权所有 © 2021 新浪网 保留所有权利",
    "【免责声明】本文仅代表作者个人观点，与本网站无关。",
    "更多精彩内容，请下载客户端。",
)
_SENT_RE = re.compile(r"(?<=[。！？!?])")


def normalize(text: str) -> str:
    """What DedupMinhash shingles (lowercase=True, char tokenizer)."""
    return " ".join(text.lower().split())


def shingles(text: str, n: int = 5) -> set[str]:
    t = normalize(text)
    return {t} if len(t) <= n else {t[i : i + n] for i in range(len(t) - n + 1)}


def jaccard(x: str, y: str) -> float:
    """Exact Jaccard of the two texts' character 5-gram sets."""
    a, b = shingles(x), shingles(y)
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class Pair:
    kind: str
    x: str
    y: str
    j: float


def load_docs(folder: Path, min_chars: int = 200) -> list[str]:
    """Documents of :data:`SOURCES` with at least ``min_chars`` characters, exact dups removed."""
    seen: set[str] = set()
    out = []
    for name in SOURCES:
        with (folder / f"{name}.jsonl").open("rb") as fh:
            for line in fh:
                t = orjson.loads(line)["text"]
                if isinstance(t, str) and len(t) >= min_chars and normalize(t) not in seen:
                    seen.add(normalize(t))
                    out.append(t)
    return out


def substitute(t: str, rng: random.Random) -> str:
    r = rng.uniform(0, 0.2)
    chars = list(t)
    for i in rng.sample(range(len(chars)), int(len(chars) * r)):
        chars[i] = rng.choice(t)
    return "".join(chars)


def indel(t: str, rng: random.Random) -> str:
    r = rng.uniform(0, 0.2)
    chars = list(t)
    for _ in range(int(len(chars) * r)):
        i = rng.randrange(len(chars))
        if rng.random() < 0.5:
            del chars[i]
        else:
            chars.insert(i, rng.choice(t))
    return "".join(chars)


def reorder(t: str, rng: random.Random) -> str:
    """Shuffle sentences (or lines): few 5-grams change, only those across boundaries."""
    parts = [p for p in (t.splitlines(True) if t.count("\n") > 2 else _SENT_RE.split(t)) if p]
    rng.shuffle(parts)
    return "".join(parts)


def add_boilerplate(t: str, rng: random.Random) -> str:
    lines = rng.sample(BOILERPLATE, rng.randint(1, 6))
    cut = rng.randint(0, len(lines))
    return "\n".join(lines[:cut] + [t] + lines[cut:])


def truncate(t: str, rng: random.Random) -> str:
    return t[: int(len(t) * rng.uniform(0.3, 1.0))]


def mixed(t: str, rng: random.Random) -> str:
    return add_boilerplate(substitute(reorder(t, rng), rng), rng)


EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "substitute": substitute,
    "indel": indel,
    "reorder": reorder,
    "boilerplate": add_boilerplate,
    "truncate": truncate,
    "mixed": mixed,
}


def make_pairs(
    docs: list[str], n_edit: int, n_unrelated: int, n_shared: int, seed: int = 0
) -> list[Pair]:
    """Edited pairs (each original used once), unrelated pairs, and pairs of two different
    documents cut short and given the same long boilerplate block (hard negatives)."""
    rng = random.Random(seed)
    pool = docs[:]
    rng.shuffle(pool)
    if len(pool) < n_edit + 2 * (n_unrelated + n_shared):
        raise ValueError(f"need more documents than {len(pool)}")
    pairs = []
    kinds = list(EDITS)
    for i in range(n_edit):
        kind = kinds[i % len(kinds)]
        x = pool.pop()
        y = EDITS[kind](x, rng)
        pairs.append(Pair(kind, x, y, jaccard(x, y)))
    for _ in range(n_unrelated):
        x, y = pool.pop(), pool.pop()
        pairs.append(Pair("unrelated", x, y, jaccard(x, y)))
    for _ in range(n_shared):
        block = "\n".join(rng.sample(BOILERPLATE, 5))
        x, y = pool.pop()[: rng.randint(30, 150)] + "\n" + block, pool.pop()[:100] + "\n" + block
        pairs.append(Pair("shared_boilerplate", x, y, jaccard(x, y)))
    return pairs
