"""Fast "does any of these regexes match this line" for a list of ~50 line patterns.

One ``re`` alternation of 50 patterns costs ~25 us per line (CPython tries every branch at every
position), 1.6 s for the 66k short lines of the DEV web data. :class:`LinePatterns` gives the
same answer as ``re.search`` of the alternation, faster, by splitting every pattern into its
top-level alternatives:

* an alternative that starts with ``^`` is tried at the line start only (``re.match``), unless
  every literal of its trigger (below) has 3+ characters: then it is searched like the others
  (``^`` still anchors it), cheaper than one more branch in the anchored alternation (2-character
  triggers such as 喜欢 occur in too many lines: on the DEV web data they doubled the cost);
* any other alternative gets its *trigger*: literal text every match must contain (the longest
  required literal run, or a required group of plain literal alternatives such as
  ``(来源|出处)``). A line is searched with those alternatives only if it contains a trigger,
  which one literal-only regex finds quickly;
* an alternative without a trigger is always searched (none in the shipped list).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLASS_ESCAPES = set("dDsSwWbBAZ0123456789")
_META = set(".^$*+?{}[]()|\\")


def _skip_class(p: str, i: int) -> int:
    """Index after the character class starting at ``p[i] == "["``."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while j < len(p) and p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    return j + 1


def _skip_group(p: str, i: int) -> int:
    """Index after the group starting at ``p[i] == "("``."""
    depth, j = 0, i
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _skip_class(p, j)
            continue
        depth += (c == "(") - (c == ")")
        j += 1
        if depth == 0:
            return j
    raise ValueError(f"unbalanced parenthesis in {p!r}")


def split_alternatives(p: str) -> list[str]:
    """Top-level ``|`` alternatives of a regex."""
    out, start, i = [], 0, 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
        elif c == "[":
            i = _skip_class(p, i)
        elif c == "(":
            i = _skip_group(p, i)
        else:
            if c == "|":
                out.append(p[start:i])
                start = i + 1
            i += 1
    return [*out, p[start:]]


def _optional_quantifier(p: str, i: int) -> tuple[bool, int]:
    """(is there a quantifier at i that allows zero repeats, index after it)."""
    if i < len(p) and p[i] in "?*+":
        j = i + 1 + (i + 1 < len(p) and p[i + 1] in "?+")
        return p[i] != "+", j
    m = re.match(r"\{(\d*)(,\d*)?\}\??", p[i:])
    if m:
        return m.group(1) in ("", "0"), i + m.end()
    return False, i


def required_literals(branch: str) -> list[str] | None:
    """Literals of which every match of ``branch`` contains at least one (None if unknown)."""
    candidates: list[list[str]] = []
    run, i = "", 0

    def close_run() -> None:
        nonlocal run
        if run:
            candidates.append([run])
        run = ""

    while i < len(branch):
        c = branch[i]
        if c == "\\" and i + 1 < len(branch) and branch[i + 1] not in _CLASS_ESCAPES:
            atom, nxt = branch[i + 1], i + 2
        elif c == "(":
            end = _skip_group(branch, i)
            body = branch[i + 1 : end - 1]
            optional, nxt = _optional_quantifier(branch, end)
            close_run()
            if body.startswith("?:"):
                body = body[2:]
            if not optional and not body.startswith("?"):
                alts = split_alternatives(body)
                if all(a and not (set(a) & _META) for a in alts):
                    candidates.append(alts)
            i = nxt
            continue
        elif c == "[":
            atom, nxt = None, _skip_class(branch, i)
        elif c in _META:
            atom, nxt = None, i + (2 if c == "\\" else 1)
        else:
            atom, nxt = c, i + 1
        optional, after = _optional_quantifier(branch, nxt)
        if atom is None or after != nxt:
            if atom is not None and not optional:
                run += atom  # required once, but what follows is not contiguous
            close_run()
        else:
            run += atom
        i = after
    close_run()
    if not candidates:
        return None
    return max(candidates, key=lambda alts: min(map(len, alts)))


def literal_trie(literals: list[str]) -> str:
    """A regex matching any of ``literals``, common prefixes factored out (``轻(?:点|触)``).

    ``re`` tries the branches of an alternation one by one at every position; with ~150 trigger
    literals a flat alternation cost ~2x the whole pattern stage, the trie tries one branch per
    first character. A literal that is a prefix of another matches at the same position, so
    "is there a trigger" is unchanged.
    """
    trie: dict[str, dict] = {}
    for lit in literals:
        node = trie
        for c in lit:
            node = node.setdefault(c, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        if "" in node:
            return ""  # a shorter literal ends here: enough for a trigger
        branches = [re.escape(c) + emit(child) for c, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(trie) if literals else ""


@dataclass(frozen=True)
class LinePatterns:
    """Compiled form of a pattern list; ``matches(line)`` == any pattern ``re.search``-es it."""

    anchored: re.Pattern[str] | None
    trigger: re.Pattern[str] | None
    triggered: re.Pattern[str] | None
    always: re.Pattern[str] | None

    @classmethod
    def compile(cls, patterns: list[str]) -> LinePatterns:
        anchored, triggered, always, literals = [], [], [], set()
        for pattern in patterns:
            for alt in split_alternatives(pattern):
                lits = required_literals(alt[1:] if alt.startswith("^") else alt)
                if alt.startswith("^") and (lits is None or min(map(len, lits)) < 3):
                    anchored.append(alt)
                elif lits is not None:
                    triggered.append(alt)
                    literals.update(lits)
                else:
                    always.append(alt)

        def join(alts: list[str]) -> re.Pattern[str] | None:
            return re.compile("|".join(f"(?:{a})" for a in alts)) if alts else None

        trigger = literal_trie(sorted(literals))
        return cls(
            join(anchored), re.compile(trigger) if trigger else None, join(triggered), join(always)
        )

    def matches(self, line: str) -> bool:
        if self.anchored is not None and self.anchored.match(line):
            return True
        if self.trigger is not None and self.trigger.search(line):
            assert self.triggered is not None
            if self.triggered.search(line):
                return True
        return self.always is not None and self.always.search(line) is not None
