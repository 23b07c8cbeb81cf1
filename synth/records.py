"""Field conventions of synthesized records and the rows the SFT / preference writers need.

An instruction record has ``text`` = the instruction and, in ``meta``: ``instruction``,
``input`` (may be ""), ``output`` (once answered), ``source_id`` (lineage to the curated
document) and ``synth`` (model, sampling, template hash, tokens, finish reason). ``respond``
adds ``responses``; ``judge`` adds scores/verdicts; ``preference_pairs`` adds ``prompt``,
``chosen``, ``rejected`` and their scores.
"""

from __future__ import annotations

from typing import Any

from pipeline.record import Doc


def instruction_of(doc: Doc) -> tuple[str, str]:
    """(instruction, input) of a record: ``meta.instruction`` if present, else ``text``."""
    meta = doc.meta
    instruction = meta.get("instruction") or doc.text
    return str(instruction).strip(), str(meta.get("input") or "").strip()


def user_message(instruction: str, input_text: str = "") -> str:
    """The user turn: the instruction, then its input (if any) after a blank line."""
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def sft_row(doc: Doc) -> dict[str, Any]:
    """One SFT row: chat ``messages`` plus Alpaca-style instruction/input/output columns."""
    instruction, input_text = instruction_of(doc)
    output = str(doc.meta.get("output") or "")
    return {
        "id": doc.id,
        "instruction": instruction,
        "input": input_text,
        "output": output,
        "messages": [
            {"role": "user", "content": user_message(instruction, input_text)},
            {"role": "assistant", "content": output},
        ],
    }


def preference_row(doc: Doc) -> dict[str, Any]:
    """One preference row (``prompt``, ``chosen``, ``rejected`` and their scores)."""
    meta = doc.meta
    return {
        "id": doc.id,
        "prompt": meta["prompt"],
        "chosen": meta["chosen"],
        "rejected": meta["rejected"],
        "chosen_score": meta["chosen_score"],
        "rejected_score": meta["rejected_score"],
    }
