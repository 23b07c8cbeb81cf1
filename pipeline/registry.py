"""The explicit stage registry: config ``type`` -> stage class (no import side effects).

Stage modules import their heavy libraries (models, dictionaries, engines) lazily in
``setup()``, so importing the registry stays cheap.
"""

from __future__ import annotations

from filters.boilerplate import Boilerplate
from filters.dedup.exact import DedupExact
from filters.dedup.minhash import DedupMinhash
from filters.heuristics import Heuristics
from filters.langid import LangId
from filters.lexicon import Lexicon
from filters.normalize import Normalize
from filters.pii import Pii
from filters.quality import Quality
from pipeline.builtin import Noop
from pipeline.stage import Stage

_CLASSES: tuple[type[Stage], ...] = (
    Normalize, Boilerplate, LangId, Heuristics, Lexicon, Pii, DedupExact, DedupMinhash, Quality,
    Noop,
)

STAGES: dict[str, type[Stage]] = {cls.name: cls for cls in _CLASSES}
