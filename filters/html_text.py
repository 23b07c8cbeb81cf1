"""HTML -> plain text for :mod:`filters.normalize` (selectolax/lexbor).

Block elements become line breaks, everything else flows as a browser renders it: runs of HTML
whitespace (space, tab, CR, LF, FF) inside the markup collapse to one space, so a newline in the
source in the middle of a paragraph does not split it. ``script``, ``style``, ``noscript``,
``template``, ``head`` (title and meta are metadata, not body text), ``svg`` and ``iframe`` are
dropped. Entities are decoded by the parser.
"""

from __future__ import annotations

import re

_BLOCK = (
    "address|article|aside|blockquote|br|dd|div|dl|dt|fieldset|figcaption|figure|footer|form|"
    "h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul"
)
#: An opening, closing or self-closing block tag.
_BLOCK_TAG = re.compile(rf"<(/?)(?:{_BLOCK})\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(
    r"</?(?:a|b|body|br|div|em|font|h[1-6]|head|html|i|img|li|meta|ol|p|script|span|strong|"
    r"style|table|td|tr|ul)\b[^<>]{0,500}>",
    re.IGNORECASE,
)
#: An element of a known tag: opening tag (with optional attributes), text without markup,
#: and the matching closing tag. Prose that mentions "<" and ">" (a<b, List<String>, 用<p>分段)
#: has no closing tag of the same name, and 《》〈〉 are other characters.
_KNOWN = (
    "a|abbr|b|blockquote|code|dd|div|dl|dt|em|font|h[1-6]|i|li|ol|p|pre|small|span|strong|sub|"
    "sup|table|td|th|tr|u|ul"
)
_ELEMENT = re.compile(rf"<({_KNOWN})(?:\s[^<>]{{0,500}})?>[^<>]{{0,2000}}</\1\s*>", re.IGNORECASE)
_DOC_START = re.compile(r"^\s*(?:<!doctype\s+html|<html\b)", re.IGNORECASE)
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_DROP = ["script", "style", "noscript", "template", "head", "svg", "iframe"]
#: Sentinel marking a block boundary in the markup; becomes "\n" after whitespace collapsing.
_MARK = "\x02"
#: Number of known tags from which "auto" treats a text without a doctype as HTML.
MIN_TAGS = 3


def looks_like_html(text: str) -> bool:
    """True for a document start (doctype/<html>), one well-formed element of a known tag
    (``<p>这是个测试</p>``, ``<a href=…>测试</a>``), or at least ``MIN_TAGS`` known tags.

    Chinese prose that quotes one or two tags (``用<br>换行``) or compares (``a<b``, ``c>d``)
    is not taken for markup; a tutorial that quotes a whole element (``<b>粗体</b>``) is.
    """
    if "<" not in text or ">" not in text:
        return False
    if _DOC_START.match(text):
        return True
    if "</" in text and _ELEMENT.search(text):
        return True
    return any(i + 1 >= MIN_TAGS for i, _ in enumerate(_TAG.finditer(text)))


def _mark_block(m: re.Match[str]) -> str:
    # Put the mark on the inside of the element so the parser keeps it in place.
    tag = m.group(0)
    closing = bool(m.group(1)) or tag[1:3].lower() == "br"
    return _MARK + tag if closing else tag + _MARK


def html_to_text(html: str) -> str:
    """Visible text of ``html`` with block elements on their own lines (not yet stripped)."""
    from selectolax.lexbor import LexborHTMLParser

    marked = _BLOCK_TAG.sub(_mark_block, html.replace(_MARK, ""))
    tree = LexborHTMLParser(marked)
    tree.strip_tags(_DROP)
    root = tree.body or tree.root
    text = root.text(deep=True, separator="", strip=False) if root is not None else ""
    return _HTML_SPACE.sub(" ", text).replace(_MARK, "\n")
