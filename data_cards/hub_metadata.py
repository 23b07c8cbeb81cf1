"""What the Hugging Face Hub accepts in a dataset card's YAML metadata, pinned here.

A card whose metadata the Hub does not accept shows a metadata warning on the Hub and is left
out of its filters (language, license, size, task). The configs' ``card`` section is checked
against these lists when the config is loaded (``check_card``: a bad value is a config error,
exit 2), and every rendered card is parsed back and compared with what was meant
(``data_cards.render.render_card``).

Where each list comes from (read 2026-12-02; update by re-reading the same files):

* ``LICENSES``: huggingface/hub-docs @242f4a1eeb (2026-08-22),
  ``docs/hub/repositories-licenses.md``, the "License identifier" column.
* ``TASK_CATEGORIES`` and ``TASK_IDS``: huggingface/huggingface.js @fe42e68017 (2026-08-21),
  ``packages/tasks/src/pipelines.ts``: the keys of ``PIPELINE_DATA`` and the ``type`` of
  their ``subtasks`` (hub-docs ``datasetcard.md`` points there for the full list).
* ``SIZE_CATEGORIES``, ``ANNOTATIONS_CREATORS``, ``LANGUAGE_CREATORS``, ``MULTILINGUALITY``:
  the ``DatasetCardData`` docstring of huggingface_hub (``repocard_data.py``) and hub-docs
  ``datasetcard.md``.
* ``language``: ISO 639-1, 639-2 and 639-3 codes (``iso639_codes.txt`` beside this file,
  written by ``write_language_codes`` from Debian's iso-codes 4.15.0).
* ``source_datasets`` and ``pretty_name``: free text on the Hub; here each must be one
  non-empty line (a list of such strings for ``source_datasets``).
"""

from __future__ import annotations

import functools
import json
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LICENSES: frozenset[str] = frozenset(
    """
    apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m
    bigscience-bloom-rail-1.0 bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd
    bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5
    cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0
    cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0
    cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0
    epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
    lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr
    mpl-2.0 odc-by odbl openmdw-1.0 openmdw-1.1 openrail++ osl-3.0 postgresql ofl-1.1 ncsa
    unlicense zlib pddl lgpl-lr deepfloyd-if-license fair-noncommercial-research-license
    llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 grok2-community gemma unknown other
    """.split()
)

TASK_CATEGORIES: frozenset[str] = frozenset(
    """
    text-classification token-classification table-question-answering question-answering
    zero-shot-classification translation summarization feature-extraction text-generation
    fill-mask sentence-similarity text-to-speech text-to-audio automatic-speech-recognition
    audio-to-audio audio-classification audio-text-to-text voice-activity-detection
    depth-estimation image-classification object-detection image-segmentation text-to-image
    image-to-text image-to-image image-to-video unconditional-image-generation
    video-classification reinforcement-learning robotics tabular-classification
    tabular-regression tabular-to-text table-to-text multiple-choice text-ranking
    text-retrieval time-series-forecasting text-to-video image-text-to-text
    image-text-to-image image-text-to-video visual-question-answering
    document-question-answering zero-shot-image-classification graph-ml mask-generation
    zero-shot-object-detection text-to-3d image-to-3d image-feature-extraction
    video-text-to-text keypoint-detection visual-document-retrieval any-to-any
    video-to-video other
    """.split()
)

TASK_IDS: frozenset[str] = frozenset(
    """
    abstractive-qa acceptability-classification audio-emotion-recognition
    audio-intent-classification audio-language-identification closed-book-qa
    closed-domain-qa conversational coreference-resolution dialogue-generation
    dialogue-modeling document-question-answering document-retrieval
    entity-linking-classification entity-linking-retrieval explanation-generation
    extractive-qa face-detection fact-checking fact-checking-retrieval grasping
    hate-speech-detection image-captioning image-colorization image-inpainting
    instance-segmentation intent-classification keyword-spotting language-identification
    language-modeling lemmatization masked-language-modeling multi-class-classification
    multi-class-image-classification multi-input-text-classification
    multi-label-classification multi-label-image-classification
    multiple-choice-coreference-resolution multiple-choice-qa
    multivariate-time-series-forecasting named-entity-recognition natural-language-inference
    news-articles-headline-generation news-articles-summarization open-book-qa
    open-domain-abstractive-qa open-domain-qa panoptic-segmentation parsing part-of-speech
    pose-estimation rdf-to-text semantic-segmentation semantic-similarity-classification
    semantic-similarity-scoring sentiment-analysis sentiment-classification sentiment-scoring
    slot-filling speaker-identification super-resolution tabular-multi-class-classification
    tabular-multi-label-classification tabular-single-column-regression task-planning
    text-scoring text-simplification text2text-generation topic-classification
    univariate-time-series-forecasting utterance-retrieval vehicle-detection
    visual-question-answering word-sense-disambiguation
    """.split()
)

#: (exclusive upper bound on the number of records, label), in order; the last is open.
SIZE_BOUNDS: tuple[tuple[int | None, str], ...] = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
    (None, "n>1T"),
)
SIZE_CATEGORIES: frozenset[str] = frozenset(label for _, label in SIZE_BOUNDS)
ANNOTATIONS_CREATORS = frozenset(
    {"found", "crowdsourced", "expert-generated", "machine-generated", "no-annotation", "other"}
)
LANGUAGE_CREATORS = frozenset(
    {"found", "crowdsourced", "expert-generated", "machine-generated", "other"}
)
MULTILINGUALITY = frozenset({"monolingual", "multilingual", "translation", "other"})
#: Non-ISO values the Hub documents for ``language`` (huggingface_hub DatasetCardData).
LANGUAGE_SPECIAL = frozenset({"code", "multilingual"})

LANGUAGE_CODES_FILE = Path(__file__).with_name("iso639_codes.txt")


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` label for ``n`` records (``SIZE_BOUNDS``)."""
    return next(label for bound, label in SIZE_BOUNDS if bound is None or n < bound)


@functools.cache
def language_codes() -> frozenset[str]:
    """ISO 639-1/2/3 codes from ``iso639_codes.txt`` (lines starting with # are comments)."""
    lines = LANGUAGE_CODES_FILE.read_text("ascii").splitlines()
    return frozenset(c for line in lines if not line.startswith("#") for c in line.split())


def _one_line(value: Any) -> bool:
    return isinstance(value, str) and value.strip() == value and value != "" and "\n" not in value


def _closest(value: str, allowed: Iterable[str]) -> str:
    import difflib

    near = difflib.get_close_matches(value, sorted(allowed), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(near)}?" if near else ""


def _check_list(key: str, value: Any, allowed: frozenset[str] | None, what: str) -> str | None:
    """Problem with a list-of-strings field, or None. ``allowed`` None: any one-line text."""
    if isinstance(value, str) or not isinstance(value, list):
        return f"{key}: expected a list of strings, got {value!r}"
    for item in value:
        if not _one_line(item):
            return f"{key}: {item!r} is not a non-empty one-line string"
        if allowed is not None and item not in allowed:
            return f"{key}: {item!r} is not {what}{_closest(item, allowed)}"
        if allowed is None and _unbalanced(item):
            return (
                f"{key}: {item!r} has unbalanced brackets: a comma inside a YAML flow list "
                f"[a, b] splits an item; write the list as a block list ('- item' lines)"
            )
    return None


def _unbalanced(text: str) -> bool:
    """Whether ``text`` opens or closes a (), [], {} or full-width （） it does not match."""
    depth = {"(": 0, "[": 0, "{": 0, "（": 0}
    close = {")": "(", "]": "[", "}": "{", "）": "（"}
    for ch in text:
        if ch in depth:
            depth[ch] += 1
        elif ch in close:
            depth[close[ch]] -= 1
            if depth[close[ch]] < 0:
                return True
    return any(depth.values())


#: Front-matter key -> (allowed values or None for free text, what an allowed value is).
LIST_FIELDS: dict[str, tuple[frozenset[str] | None, str]] = {
    "task_categories": (TASK_CATEGORIES, "a Hub task category (huggingface.js pipelines.ts)"),
    "task_ids": (TASK_IDS, "a Hub task id (huggingface.js pipelines.ts subtasks)"),
    "size_categories": (SIZE_CATEGORIES, "a Hub size category (n<1K ... n>1T)"),
    "annotations_creators": (ANNOTATIONS_CREATORS, "a Hub annotations_creators value"),
    "language_creators": (LANGUAGE_CREATORS, "a Hub language_creators value"),
    "multilinguality": (MULTILINGUALITY, "a Hub multilinguality value"),
    "source_datasets": (None, ""),
}


def metadata_problems(meta: Mapping[str, Any]) -> list[str]:
    """One line per field of card metadata ``meta`` that the Hub would not accept (empty when
    all are fine). Keys that are not Hub metadata fields (``tags``, ``configs`` ...) are not
    checked here."""
    out = []
    if "license" in meta:
        lic = meta["license"]
        for item in lic if isinstance(lic, list) else [lic]:
            if item not in LICENSES:
                out.append(
                    f"license: {item!r} is not a Hub license id (hub-docs "
                    f"repositories-licenses){_closest(str(item), LICENSES)}"
                )
    if "language" in meta:
        codes = language_codes() | LANGUAGE_SPECIAL
        problem = _check_list("language", meta["language"], codes, "an ISO 639-1/2/3 code")
        out += [problem] if problem else []
    if "pretty_name" in meta and not _one_line(meta["pretty_name"]):
        out.append(f"pretty_name: {meta['pretty_name']!r} is not a non-empty one-line string")
    for key, (allowed, what) in LIST_FIELDS.items():
        if key in meta:
            problem = _check_list(key, meta[key], allowed, what)
            out += [problem] if problem else []
    return out


#: Config ``card`` key -> front-matter key it becomes (``data_cards.render.front_matter``).
CARD_KEYS = {
    "license": "license",
    "pretty_name": "pretty_name",
    "task_categories": "task_categories",
    "source_datasets": "source_datasets",
}


def card_problems(card: Mapping[str, Any]) -> list[str]:
    """``metadata_problems`` for the Hub fields of a config's ``card`` section, each line
    starting with ``card.<key>``. An unset ``pretty_name`` (None: the dataset name) is fine."""
    meta = {front: card[key] for key, front in CARD_KEYS.items() if key in card}
    if meta.get("pretty_name") is None:
        meta.pop("pretty_name", None)
    return [f"card.{line}" for line in metadata_problems(meta)]


def write_language_codes(iso_json_dir: Path, out: Path = LANGUAGE_CODES_FILE) -> int:
    """Write ``iso639_codes.txt`` from Debian iso-codes' ``iso_639-3.json`` and
    ``iso_639-2.json`` in ``iso_json_dir``; return the number of codes."""
    d3 = json.loads((iso_json_dir / "iso_639-3.json").read_text("utf-8"))["639-3"]
    d2 = json.loads((iso_json_dir / "iso_639-2.json").read_text("utf-8"))["639-2"]
    two = sorted({e["alpha_2"] for e in d3 + d2 if "alpha_2" in e})
    three = {e["alpha_3"] for e in d3 + d2} | {
        e["bibliographic"] for e in d2 if "bibliographic" in e
    }
    three_sorted = sorted(c for c in three if len(c) == 3 and c.isalpha())  # not "qaa-qtz"
    old = out.read_text("ascii").splitlines() if out.exists() else []
    header = [line for line in old if line.startswith("#")]  # kept: says where codes come from
    body = textwrap.wrap(" ".join(two), 99) + textwrap.wrap(" ".join(three_sorted), 99)
    out.write_text("\n".join(header + body) + "\n", "ascii")
    return len(two) + len(three_sorted)


if __name__ == "__main__":  # python -m data_cards.hub_metadata /usr/share/iso-codes/json
    print(write_language_codes(Path(sys.argv[1])), "codes written to", LANGUAGE_CODES_FILE)
