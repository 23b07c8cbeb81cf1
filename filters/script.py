"""Simplified vs. traditional script: evidence counts, label, and OpenCC t2s conversion.

Evidence is counted per character, with sets derived from OpenCC itself (so detection and
conversion agree), over the CJK Unified Ideographs U+4E00-9FFF and extension A:

* traditional-only: characters that OpenCC ``t2s`` changes when converted alone (國 為 於 這 ...);
* simplified-only: characters that ``s2t`` changes, minus the traditional-only ones, minus the
  203 characters whose OpenCC ST candidates include themselves (里 台 后 干 ..., valid in
  traditional text too; ``filters/data/opencc_st_ambiguous.txt``), minus characters that
  ``s2tw`` leaves unchanged (群 峰 秘 床: Taiwan's standard forms).

Label rule, with t = traditional-only and s = simplified-only characters in the text:
``none`` if t + s == 0 (no Han character that tells the scripts apart, or no Han at all),
``hant`` if t / (t + s) >= 0.9, ``hans`` if t / (t + s) <= 0.1, else ``mixed``.
Measured on the DEV web data (benchmarks note in the stage report): zh-TW Wikipedia (DRCD)
1,998/2,000 hant and 2 mixed; zh-CN Wikipedia (CMRC 2018) 1,318/1,318 hans, since stray
traditional characters in simplified text (乾隆, 於 as a surname) stay under 10 %.

The tables take ~0.1 s to build, once per process, on first use.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000))
_AMBIGUOUS = Path(__file__).parent / "data" / "opencc_st_ambiguous.txt"
#: A text is "hant" when at least 9 in 10 evidence characters are traditional-only, "hans" when
#: at most 1 in 10 is (integer arithmetic, so 1 of 10 is exactly on the boundary).
HANT_TENTHS = 9


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def _convert_each(config: str, chars: list[str]) -> list[str]:
    """Convert each character alone (newline-separated, so no phrase spans two of them)."""
    out = _converter(config).convert("\n".join(chars)).split("\n")
    if len(out) != len(chars):
        raise RuntimeError(f"OpenCC {config} changed the number of lines")
    return out


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    chars = [chr(cp) for lo, hi in _RANGES for cp in range(lo, hi)]
    trad = {c for c, x in zip(chars, _convert_each("t2s", chars)) if x != c}
    to_trad = {c for c, x in zip(chars, _convert_each("s2t", chars)) if x != c}
    to_tw = {c for c, x in zip(chars, _convert_each("s2tw", chars)) if x != c}
    lines = _AMBIGUOUS.read_text(encoding="utf-8").splitlines()
    ambiguous = set("".join(ln for ln in lines if ln and not ln.startswith("#")))
    simp = (to_trad & to_tw) - trad - ambiguous

    def char_class(cs: set[str]) -> re.Pattern[str]:
        return re.compile("[" + "".join(sorted(cs)) + "]")

    return char_class(trad), char_class(simp)


def script_counts(text: str) -> tuple[int, int]:
    """(traditional-only, simplified-only) character counts in ``text``."""
    trad_re, simp_re = _patterns()
    return len(trad_re.findall(text)), len(simp_re.findall(text))


def script_label(trad: int, simp: int) -> str:
    """hans / hant / mixed / none from the evidence counts (rule in the module docstring)."""
    total = trad + simp
    if total == 0:
        return "none"
    if trad * 10 >= total * HANT_TENTHS:
        return "hant"
    if trad * 10 <= total * (10 - HANT_TENTHS):
        return "hans"
    return "mixed"


def t2s_convert(text: str) -> str:
    """OpenCC ``t2s`` (traditional -> simplified, phrase-aware), applied a second time when
    traditional-only characters remain: a phrase match can shadow a neighbour in the first pass
    (於倫敦 -> 於伦敦 -> 于伦敦, 徵調 -> 徵调 -> 征调; 11 of 72k DEV records). Characters that
    OpenCC keeps on purpose (乾隆) stay, so the result is a fixed point."""
    converter = _converter("t2s")
    text = converter.convert(text)
    if _patterns()[0].search(text):
        text = converter.convert(text)
    return text
