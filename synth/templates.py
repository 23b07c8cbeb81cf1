"""Prompt templates: Chinese text files in ``synth/prompts/``, identified by their sha256.

A file has a ``[system]`` and a ``[user]`` section; ``{{name}}`` marks a placeholder. Values
are substituted in one pass (a value that itself contains ``{{x}}`` is not expanded again).
Untrusted values (documents, instructions, responses) go inside ``<document>`` tags. First the
invisible format characters (Unicode Cf: TAG characters, zero-width and bidi controls) are
removed, then every such tag (also with spaces or full-width brackets) is removed until none is
left: one pass would let ``</docu</document>ment>`` rebuild ``</document>``, so a document
cannot close its own block. The system
section tells the model that the tagged content is data, not instructions, and every JSON
task is decoded under a schema, so an injected "忽略以上所有指令" cannot change the output shape.
:meth:`Template.leaks` is the post-check that an output does not quote the template.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from synth.guards import strip_invisible

PROMPT_DIR = Path(__file__).parent / "prompts"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_TAG = re.compile(r"[<＜]\s*[/／]?\s*document\s*[>＞]", re.IGNORECASE)
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)

#: Length of the template substrings looked for in outputs (characters). 16 CJK characters
#: are a whole clause: a model answer repeats one only by quoting the template.
LEAK_NGRAM = 16


def strip_tags(text: str) -> str:
    """``text`` without ``<document>``/``</document>`` tags, removed until none is left."""
    while True:
        stripped = _TAG.sub("", text)
        if stripped == text:
            return text
        text = stripped


def untrusted(text: str) -> str:
    """Wrap untrusted text in ``<document>`` tags after removing invisible format characters
    and any tag it carries (see the module docstring)."""
    return f"<document>\n{strip_tags(strip_invisible(text)).strip()}\n</document>"


@dataclass(frozen=True)
class Template:
    name: str
    system: str
    user: str
    sha256: str

    def render(self, **values: str | int) -> tuple[dict[str, str], ...]:
        """Chat messages with every placeholder filled (a missing value raises KeyError)."""

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)

        return (
            {"role": "system", "content": fill(self.system)},
            {"role": "user", "content": fill(self.user)},
        )

    def static_grams(self) -> frozenset[str]:
        """Every ``LEAK_NGRAM``-character substring of the template's fixed text."""
        grams = set()
        for part in _PLACEHOLDER.split(self.system + "\n" + self.user)[::2]:
            for line in part.splitlines():
                line = line.strip()
                grams.update(line[i : i + LEAK_NGRAM] for i in range(len(line) - LEAK_NGRAM + 1))
        return frozenset(grams)

    def leaks(self, output: str) -> bool:
        """True if ``output`` quotes ``LEAK_NGRAM`` or more consecutive template characters."""
        grams = _grams(self)
        return any(output[i : i + LEAK_NGRAM] in grams for i in range(len(output) - LEAK_NGRAM + 1))


@cache
def _grams(template: Template) -> frozenset[str]:
    return template.static_grams()


@cache
def load_template(name: str) -> Template:
    """``synth/prompts/<name>.txt`` → :class:`Template` (hash = sha256 of the file bytes)."""
    raw = (PROMPT_DIR / f"{name}.txt").read_bytes()
    text = raw.decode("utf-8")
    parts = _SECTION.split(text)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2])))
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompt {name}.txt needs exactly a [system] and a [user] section")
    return Template(name, sections["system"], sections["user"], hashlib.sha256(raw).hexdigest())
