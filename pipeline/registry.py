"""The explicit stage registry: config ``type`` -> stage class.

Every stage is listed here by name and import path (no import side effects). A class is
imported the first time it is looked up, so a run pays only for the stages it uses and
``run.py --help`` starts fast; ``run.py stages`` imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

from pipeline.stage import Stage

ENTRIES: dict[str, str] = {
    # curation (filters/)
    "normalize": "filters.normalize:Normalize",
    "boilerplate": "filters.boilerplate:Boilerplate",
    "langid": "filters.langid:LangId",
    "heuristics": "filters.heuristics:Heuristics",
    "lexicon": "filters.lexicon:Lexicon",
    "pii": "filters.pii:Pii",
    "dedup_exact": "filters.dedup.exact:DedupExact",
    "dedup_minhash": "filters.dedup.minhash:DedupMinhash",
    "quality": "filters.quality:Quality",
    # synthesis and labelling (synth/)
    "synth_doc_qa": "synth.doc_qa:SynthDocQA",
    "self_instruct": "synth.self_instruct:SelfInstruct",
    "evol_instruct": "synth.evol_instruct:EvolInstruct",
    "respond": "synth.respond:Respond",
    "judge": "synth.judge:Judge",
    "preference_pairs": "synth.preference:PreferencePairs",
    "llm_quality_annotate": "synth.quality_annotate:LLMQualityAnnotate",
    # pipeline utilities
    "noop": "pipeline.builtin:Noop",
}


class StageRegistry(MutableMapping[str, type[Stage]]):
    """name -> stage class, imported on first lookup; checks that the class's name matches."""

    def __init__(self, entries: dict[str, str]) -> None:
        self._paths = dict(entries)
        self._loaded: dict[str, type[Stage]] = {}

    def __getitem__(self, name: str) -> type[Stage]:
        if name not in self._loaded:
            module, _, attr = self._paths[name].partition(":")
            cls = getattr(importlib.import_module(module), attr)
            if cls.name != name:
                raise TypeError(f"registry entry {name!r} points at a stage named {cls.name!r}")
            self._loaded[name] = cls
        return self._loaded[name]

    def __setitem__(self, name: str, cls: type[Stage]) -> None:
        self._paths[name] = f"{cls.__module__}:{cls.__qualname__}"
        self._loaded[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._paths[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths


STAGES = StageRegistry(ENTRIES)
