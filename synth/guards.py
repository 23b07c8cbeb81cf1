"""Pure checks that a generated instruction is a task and a generated answer is an answer.

The default run's SFT set once held an "instruction" that was a copied passage of its source
ending in an open bracket ("…明长城（"), answered by a two-character fragment ("明长"). The
rules, in the order they are applied (first failure = the reason):

* ``copied_source`` — ``copied_share`` ≥ ``MAX_COPIED_SHARE`` (0.7): the share of the
  instruction's normalized characters (``textrules.normalize_chars``: NFKC, lower case, no
  spaces or punctuation) that lie inside a run of ≥ ``COPY_RUN`` (8) consecutive characters
  also found in the source. 8 CJK characters are a clause: a question quoting a term
  ("什么是军事防御工程") scores 0, a passage with "请问" in front scores ≈ 0.9.
* ``incomplete`` — the instruction leaves a bracket or quote open (``（《【「『“‘([{``) or
  ends in a clause separator (，、；), i.e. it was cut mid-sentence.
* ``no_task_form`` — neither a question mark, nor a question word (什么/如何/为什么/哪/谁/
  几/多少/是否/吗/呢/…), nor 请/麻烦, nor a task verb (写/解释/列出/总结/翻译/…) anywhere.
* ``answer_fragment`` — the answer leaves a bracket open, has no letter or digit (CJK counts
  as letters), or has fewer normalized characters than ``max(MIN_ANSWER_CHARS,
  MIN_ANSWER_RATIO × question length)`` (3, 0.2: "嘉峪关" answers "长城西至哪里？"; "明长" does
  not answer anything; a 29-character question needs ≥ 6 characters).

Thresholds are own choices, set on the default run's failures and on hand-written good pairs
(``tests/test_synth_guards.py`` has both). ``strip_invisible`` removes the format characters
(Unicode category Cf: TAG characters U+E0000–U+E007F, bidi controls, zero-width characters,
BOM, soft hyphen) that survive NFKC: invisible in training data and a known smuggling channel.
"""

from __future__ import annotations

import unicodedata

from synth.textrules import normalize_chars

MAX_COPIED_SHARE = 0.7
COPY_RUN = 8
MIN_ANSWER_CHARS = 3
MIN_ANSWER_RATIO = 0.2

#: Opening → closing bracket or quote (unmatched closers are ignored: "1）" lists are common).
PAIRS = {
    "（": "）",
    "(": ")",
    "[": "]",
    "{": "}",
    "【": "】",
    "「": "」",
    "『": "』",
    "《": "》",
    "〈": "〉",
    "“": "”",
    "‘": "’",
}
#: An instruction ending in one of these was cut mid-sentence.
CLAUSE_END = ("，", ",", "、", "；", ";")
QUESTION_MARKS = ("？", "?")
QUESTION_WORDS = (
    "什么",
    "如何",
    "怎么",
    "怎样",
    "为什么",
    "为何",
    "何",
    "哪",
    "谁",
    "几",
    "多少",
    "多久",
    "多长",
    "多大",
    "是否",
    "能否",
    "可否",
    "有没有",
    "是不是",
    "吗",
    "呢",
    "请",
    "麻烦",
)
#: Verbs of an imperative task (Self-Instruct/BELLE task types, in Chinese).
TASK_VERBS = (
    "写",
    "解释",
    "列出",
    "列举",
    "总结",
    "概括",
    "归纳",
    "翻译",
    "描述",
    "介绍",
    "说明",
    "阐述",
    "谈谈",
    "比较",
    "分析",
    "评价",
    "讨论",
    "给出",
    "提供",
    "举例",
    "判断",
    "分类",
    "识别",
    "提取",
    "找出",
    "指出",
    "改写",
    "续写",
    "扩写",
    "润色",
    "修改",
    "纠正",
    "整理",
    "生成",
    "创作",
    "设计",
    "制定",
    "规划",
    "推荐",
    "计算",
    "估算",
    "预测",
    "证明",
    "解答",
    "回答",
    "选择",
    "排序",
    "转换",
    "构思",
    "起草",
)


def strip_invisible(text: str) -> str:
    """``text`` without format characters (Unicode category Cf), e.g. U+E0041, U+200B."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def copied_share(instruction: str, source: str, run: int = COPY_RUN) -> float:
    """Share (0..1) of the instruction's normalized characters inside a ``run``-character
    substring that also occurs in the normalized source."""
    text, src = normalize_chars(instruction), normalize_chars(source)
    if not text or len(src) < run:
        return 0.0
    grams = {src[i : i + run] for i in range(len(src) - run + 1)}
    covered = [False] * len(text)
    for i in range(len(text) - run + 1):
        if text[i : i + run] in grams:
            covered[i : i + run] = [True] * run
    return sum(covered) / len(text)


def open_bracket(text: str) -> bool:
    """True if a bracket or quote of ``PAIRS`` is opened and never closed."""
    stack: list[str] = []
    closers = set(PAIRS.values())
    for ch in text:
        if ch in PAIRS and not (ch == PAIRS[ch] and stack and stack[-1] == ch):
            stack.append(PAIRS[ch])
        elif ch in closers and stack and stack[-1] == ch:
            stack.pop()
    return bool(stack)


def has_task_form(text: str) -> bool:
    """A question mark, question word, polite request or task verb occurs in ``text``."""
    return any(w in text for w in (*QUESTION_MARKS, *QUESTION_WORDS, *TASK_VERBS))


def incomplete(text: str) -> bool:
    """Cut mid-sentence: an open bracket/quote, or a trailing clause separator."""
    return open_bracket(text) or text.rstrip().endswith(CLAUSE_END)


def check_instruction_form(
    instruction: str,
    source: str = "",
    *,
    max_copied_share: float = MAX_COPIED_SHARE,
) -> str | None:
    """The first of copied_source, incomplete, no_task_form that ``instruction`` breaks."""
    if source and copied_share(instruction, source) >= max_copied_share:
        return "copied_source"
    if incomplete(instruction):
        return "incomplete"
    if not has_task_form(instruction):
        return "no_task_form"
    return None


def check_answer(
    answer: str,
    question: str,
    *,
    min_chars: int = MIN_ANSWER_CHARS,
    min_ratio: float = MIN_ANSWER_RATIO,
) -> str | None:
    """``answer_fragment`` if the answer is a fragment of a sentence, else None."""
    n = len(normalize_chars(answer))
    needed = max(min_chars, min_ratio * len(normalize_chars(question)))
    if open_bracket(answer) or not any(ch.isalnum() for ch in answer) or n < needed:
        return "answer_fragment"
    return None
