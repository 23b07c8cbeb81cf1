"""Registry of the synthesis stages: config ``type`` → class (explicit, no import magic)."""

from __future__ import annotations

from pipeline.stage import Stage
from synth.doc_qa import SynthDocQA
from synth.evol_instruct import EvolInstruct
from synth.judge import Judge
from synth.preference import PreferencePairs
from synth.quality_annotate import LLMQualityAnnotate
from synth.respond import Respond
from synth.self_instruct import SelfInstruct

SYNTH_STAGES: dict[str, type[Stage]] = {
    cls.name: cls
    for cls in (
        SynthDocQA,
        SelfInstruct,
        EvolInstruct,
        Respond,
        Judge,
        PreferencePairs,
        LLMQualityAnnotate,
    )
}
