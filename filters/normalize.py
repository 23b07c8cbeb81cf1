"""Stage ``normalize``: one canonical form of Chinese text before any filter measures it.

Steps, in order (each cheap: ``str.translate`` or one compiled regex, no per-char Python loop):

1. HTML -> text when the input is markup (``html``: auto/always/never). selectolax (lexbor)
   drops script/style/head; block elements (p, div, br, li, tr, td, h1-h6 ...) become line breaks,
   other whitespace collapses as a browser would.
2. Broken Unicode: first, C1 controls (U+0080-009F) that are not part of a UTF-8 sequence read
   as Latin-1/cp1252 are removed and NEL (U+0085) becomes "\\n": ftfy would otherwise turn a
   stray U+0084/0085/0080 into „ … € (its ``fix_encoding`` remaps C1 controls to cp1252 even
   with ``fix_c1_controls`` off). Then ftfy ``fix_text`` (mojibake, HTML entities,
   ligatures) with ``fix_c1_controls``, ``fix_character_width`` and ``uncurl_quotes`` OFF, so
   ，。！？“” are untouched and 文 read as Latin-1 (``æ\\x96\\x87``, C1 inside) is repaired.
   ftfy costs ~25 us/record even on clean text, so it only runs when a cheap regex sees a sign
   of what it fixes (UTF-8 read as Latin-1/cp1252, an HTML entity, a ligature, an escape).
3. Characters, in one translate table:
   * full-width ASCII letters, digits and symbols ＂＃＄％＆＇＊＋－．／＜＝＞＠［＼］＾＿｀｛｜｝
     fold to ASCII; the Chinese clause/sentence marks ！（），：；？ and ～ stay full-width
     (。「」【】《》、 are outside U+FF01-FF5E and are never touched);
   * U+3000 ideographic space, NBSP and the other Unicode spaces become " ";
   * U+2028/2029, VT, FF, NEL and U+E40C (SogouCS's paragraph mark, when ``sogou_paragraph_mark``)
     become "\\n"; CRLF/CR become "\\n";
   * removed: C0/C1 controls except \\t \\n, DEL, soft hyphen, zero-width space/non-joiner,
     word joiner, BOM, bidi marks/embeddings, lone surrogates, and private-use glyphs
     (``drop_private_use``).
     A zero-width joiner is removed unless it joins two emoji (👨‍👩‍👧 stays one glyph).
4. Whitespace: runs of spaces -> one space; lines stripped at both ends (so code indentation is
   not preserved: this pipeline targets prose); 2+ blank lines -> one blank line.
5. Script: see :mod:`filters.script`; with ``t2s`` a document containing any traditional-only
   character is converted with OpenCC ``t2s`` (phrase-aware, e.g. 乾隆 stays 乾隆).

A document that is empty after normalization is rejected with rule ``empty``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import ClassVar, Literal

from filters.html_text import html_to_text, looks_like_html
from filters.script import script_counts, script_label, t2s_convert
from pipeline.record import Doc
from pipeline.stage import LOCAL, MapStage, Placement

#: Full-width forms in U+FF01..FF5E that stay: Chinese clause/sentence punctuation and ～.
KEEP_FULLWIDTH = "！（），：；？～"

_ZERO_WIDTH_DELETE = "\u00ad\u180e\u200b\u200c\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
_BIDI_DELETE = "".join(map(chr, range(0x202A, 0x202F))) + "".join(map(chr, range(0x2066, 0x206A)))
_SPACES = "\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_LINE_BREAKS = "\u000b\u000c\u0085\u2028\u2029"
_EMOJI = r"\u2600-\u27bf\U0001F000-\U0001FAFF"
#: ZWJ not between two emoji (an emoji may carry a U+FE0F variation selector before the ZWJ).
_STRAY_ZWJ = re.compile(rf"(?<![{_EMOJI}\ufe0f])\u200d|\u200d(?![{_EMOJI}])")
#: Something ftfy would fix: a UTF-8 lead byte read as Latin-1/cp1252 followed by a continuation
#: byte's rendering, a C1 control, an HTML entity, a Latin ligature, an ANSI escape, a surrogate
#: (JSON "\ud83d\ude00" pairs become one emoji).
_FTFY_GATE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    r"|[\x80-\x9f\ufb00-\ufb06\x1b\ud800-\udfff]|&(?:#\d{2,7}|#[xX][0-9a-fA-F]{2,6}|[A-Za-z]{2,8});"
)
#: Latin-1/cp1252 renderings of a UTF-8 continuation byte (0x80-0xBF).
_CONT = (
    "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
#: A whole UTF-8 sequence read as Latin-1/cp1252 (kept for ftfy), or a lone C1 control.
_C1_OR_MOJIBAKE = re.compile(
    rf"([\u00c2-\u00df][{_CONT}]|[\u00e0-\u00ef][{_CONT}]{{2}}|[\u00f0-\u00f4][{_CONT}]{{3}})"
    r"|[\x80-\x9f]"
)
_C1 = re.compile(r"[\x80-\x9f]")
_MULTI_SPACE = re.compile(r" {2,}")
_LINE_EDGES = re.compile(r"[ \t]*\n[ \t]*")
_BLANK_RUNS = re.compile(r"\n{3,}")


@cache
def char_table(sogou_paragraph_mark: bool, drop_private_use: bool) -> dict[int, str | None]:
    """The ``str.translate`` table of step 3."""
    table: dict[int, str | None] = {}
    if drop_private_use:
        table.update(dict.fromkeys(range(0xE000, 0xF900)))
    for cp in range(0xFF01, 0xFF5F):
        if chr(cp) not in KEEP_FULLWIDTH:
            table[cp] = chr(cp - 0xFEE0)
    table.update({ord(c): " " for c in _SPACES})
    table.update({ord(c): "\n" for c in _LINE_BREAKS + "\r"})
    if sogou_paragraph_mark:
        table[0xE40C] = "\n"
    controls = [*range(0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0)]
    table.update(dict.fromkeys(controls))
    table.update(dict.fromkeys(map(ord, _ZERO_WIDTH_DELETE + _BIDI_DELETE)))
    table.update(dict.fromkeys(range(0xD800, 0xE000)))  # lone surrogates (ftfy joined the pairs)
    return table


@cache
def _ftfy_config():
    import ftfy

    return ftfy.TextFixerConfig(
        fix_c1_controls=False,
        fix_character_width=False,
        uncurl_quotes=False,
        normalization="NFC",
        explain=False,
    )


def _lone_c1(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return m.group(1)
    return "\n" if m.group() == "\x85" else ""


def drop_lone_c1(text: str) -> str:
    """C1 controls outside UTF-8-read-as-Latin-1 sequences removed, NEL -> "\\n"."""
    if _C1.search(text) is None:
        return text
    return _C1_OR_MOJIBAKE.sub(_lone_c1, text)


def fix_broken_unicode(text: str) -> str:
    """Lone C1 controls removed, ftfy ``fix_text`` when the gate regex sees something to fix,
    then NFC."""
    text = drop_lone_c1(text)
    if _FTFY_GATE.search(text):
        import ftfy

        text = ftfy.fix_text(text, _ftfy_config())
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


@cache
def _table_chars(sogou_paragraph_mark: bool, drop_private_use: bool) -> re.Pattern[str]:
    """Runs of characters that the translate table changes (most documents have none)."""
    keys = sorted(char_table(sogou_paragraph_mark, drop_private_use))
    ranges, start = [], keys[0]
    for prev, cp in zip(keys, keys[1:] + [-1]):
        if cp != prev + 1:
            last = "-" + re.escape(chr(prev)) if prev > start else ""
            ranges.append(re.escape(chr(start)) + last)
            start = cp
    return re.compile("[" + "".join(ranges) + "]+")


def clean_chars(text: str, sogou_paragraph_mark: bool = True, drop_private_use: bool = True) -> str:
    """Step 3 and 4: fold/remove characters, then normalize whitespace.

    The translate table is applied only to the runs that need it: ``str.translate`` with a
    dict costs a lookup per character, ~4x the time of one regex scan on clean text.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    if "\u200d" in text:
        text = _STRAY_ZWJ.sub("", text)
    table = char_table(sogou_paragraph_mark, drop_private_use)
    text = _table_chars(sogou_paragraph_mark, drop_private_use).sub(
        lambda m: m.group().translate(table), text
    )
    if "  " in text:
        text = _MULTI_SPACE.sub(" ", text)
    if "\n" in text:
        if " \n" in text or "\n " in text or "\t" in text:
            text = _LINE_EDGES.sub("\n", text)
        if "\n\n\n" in text:
            text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()


@dataclass(frozen=True)
class Normalize(MapStage):
    """Canonical Unicode, width, whitespace and (optionally) simplified script.

    ``html``: "auto" extracts text only when the input looks like markup (see
    :func:`filters.html_text.looks_like_html`), "always"/"never" force it.
    ``t2s``: convert traditional to simplified (the corpus target is simplified Chinese).
    Stats: ``chars_before``/``chars_after`` (code points), ``script`` (hans/hant/mixed/none),
    ``trad_chars``/``simp_chars`` (script evidence counts before conversion), and flags
    ``html`` (markup was extracted), ``unicode_fixed`` (ftfy or NFC changed the text), ``t2s``
    (converted to simplified).
    """

    name: ClassVar[str] = "normalize"
    #: 2: ``html: auto`` takes one well-formed element for markup; C1 controls are removed
    #: (NEL -> newline) instead of ftfy's cp1252 remapping (U+0085 -> …).
    version: ClassVar[str] = "2"

    html: Literal["auto", "always", "never"] = "auto"
    t2s: bool = True
    sogou_paragraph_mark: bool = True
    drop_private_use: bool = True

    def __post_init__(self) -> None:
        if self.html not in ("auto", "always", "never"):
            raise ValueError(f"html must be auto, always or never, not {self.html!r}")

    def setup(self, placement: Placement = LOCAL) -> None:
        """Build the character tables and OpenCC script sets (~0.2 s, once per process)."""
        _table_chars(self.sogou_paragraph_mark, self.drop_private_use)
        script_counts("")
        _ftfy_config()

    def process_doc(self, doc: Doc) -> None:
        text = doc.text
        stats: dict[str, object] = {"chars_before": len(text)}
        is_html = self.html == "always" or (self.html == "auto" and looks_like_html(text))
        if is_html:
            text = html_to_text(text)
        fixed = fix_broken_unicode(text)
        stats["unicode_fixed"] = fixed != text
        text = clean_chars(fixed, self.sogou_paragraph_mark, self.drop_private_use)
        trad, simp = script_counts(text)
        converted = self.t2s and trad > 0
        if converted:
            text = t2s_convert(text)
        stats.update(
            script=script_label(trad, simp),
            trad_chars=trad,
            simp_chars=simp,
            html=is_html,
            t2s=converted,
            chars_after=len(text),
        )
        doc.text = text
        doc.stats.update(stats)
        if not text:
            doc.reason = "empty"
