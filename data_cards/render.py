"""Render a version's data card (``README.md``) and plots from its manifest alone.

The card has Hugging Face YAML front matter (loadable by ``huggingface_hub.DatasetCard``)
and a body after "Datasheets for Datasets" (Gebru et al.): motivation, composition,
collection, preprocessing, uses, risks/PII, maintenance.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from data_cards.hub_metadata import metadata_problems, size_category
from data_cards.sections import body_sections


def front_matter(manifest: dict[str, Any]) -> dict[str, Any]:
    card = manifest["config"]["card"]
    synthetic = manifest.get("synthetic", False)
    return {
        "license": card["license"],
        "language": ["zh"],
        "pretty_name": card["pretty_name"] or manifest["name"],
        "size_categories": [size_category(manifest["counts"]["kept"])],
        "task_categories": list(card["task_categories"]),
        "source_datasets": list(card["source_datasets"]) or ["original"],
        "annotations_creators": ["machine-generated"] if synthetic else ["no-annotation"],
        "tags": ["zhcurate", "chinese"],
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}
        ],
    }


class CardMetadataError(ValueError):
    """The rendered card's metadata is not what was meant, or not what the Hub accepts."""


#: The metadata block as huggingface_hub finds it (``repocard.REGEX_YAML_BLOCK``, 2.4.0).
#: Not imported from there: importing ``huggingface_hub.repocard`` costs seconds per publish.
YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


def parse_front_matter(card: str) -> dict[str, Any]:
    """The card's YAML metadata read back as ``huggingface_hub.repocard.metadata_load`` and
    ``DatasetCard`` read it (``tests/test_card_metadata.py`` checks that they agree)."""
    match = YAML_BLOCK.search(card)
    data = yaml.safe_load(match.group(2)) if match else None
    if not isinstance(data, dict):
        raise CardMetadataError("card metadata: no YAML mapping between --- lines at the top")
    return data


def check_round_trip(card: str, meant: dict[str, Any]) -> None:
    """Raise ``CardMetadataError`` (one line naming the key) unless ``card``'s front matter,
    parsed back, equals ``meant`` and every Hub field in it is accepted by the Hub."""
    back = parse_front_matter(card)
    for key in sorted(set(meant) | set(back)):
        if back.get(key) != meant.get(key):
            raise CardMetadataError(
                f"card metadata {key}: rendered {meant.get(key)!r} but reads back as "
                f"{back.get(key)!r}"
            )
    problems = metadata_problems(back)
    if problems:
        raise CardMetadataError(f"card metadata {problems[0]}")


def render_card(manifest: dict[str, Any]) -> str:
    """The card (YAML front matter + body), checked by ``check_round_trip``."""
    meant = front_matter(manifest)
    head = yaml.safe_dump(meant, allow_unicode=True, sort_keys=False)
    card = f"---\n{head}---\n\n" + "\n\n".join(body_sections(manifest)) + "\n"
    check_round_trip(card, meant)
    return card


def _margins(fig: Any, left: float, bottom: float, top: float = 0.45, right: float = 0.25) -> None:
    """Fixed margins in inches (``tight_layout`` measures every label first: half the
    drawing time of these small plots)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h)


def render_plots(manifest: dict[str, Any], out: Path) -> list[Path]:
    """Length distribution before/after and records dropped per reason, as PNGs."""
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    summary = manifest["summary"]
    bins = summary["length_bins"]
    labels = [f"<{bins[0]}"] + [f"{b}" for b in bins]
    written = []
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    xs = range(len(labels))
    if any(summary["length_hist_input"]):  # generated datasets have no read input
        ax.bar([x - 0.2 for x in xs], summary["length_hist_input"], width=0.4, label="input")
    ax.bar([x + 0.2 for x in xs], summary["length_hist_kept"], width=0.4, label="kept")
    ax.set_xticks(list(xs)[::3], labels[::3], rotation=45)
    ax.set_xlabel("text length (characters, lower bin edge, log-spaced)")
    ax.set_ylabel("records")
    ax.set_title("Text length before and after curation")
    ax.legend()
    _margins(fig, left=0.85, bottom=1.05)
    written.append(out / "length_hist.png")
    fig.savefig(written[-1], dpi=90)
    reasons = sorted(
        ((r, n) for s in manifest["stages"] for r, n in s["dropped"].items()), key=lambda x: -x[1]
    )
    fig = Figure(figsize=(9, max(2.5, 0.35 * len(reasons) + 1)))
    ax = fig.subplots()
    ax.barh([r for r, _ in reasons][::-1], [n for _, n in reasons][::-1])
    ax.set_xlabel("records dropped")
    ax.set_title("Records dropped per reason")
    longest = max((len(r) for r, _ in reasons), default=4)
    _margins(fig, left=0.3 + 0.085 * longest, bottom=0.6)  # ~0.085 in per label character
    written.append(out / "drop_reasons.png")
    fig.savefig(written[-1], dpi=90)
    quality = summary["stats"].get("quality", {}).get("score")
    if quality:
        fig = Figure(figsize=(7, 3.5))
        ax = fig.subplots()
        lo, hi = quality["hist_range"]
        width = (hi - lo) / len(quality["hist"]) if hi > lo else 1.0
        ax.bar(
            [lo + width * (i + 0.5) for i in range(len(quality["hist"]))],
            quality["hist"],
            width=width * 0.9,
        )
        ax.set_xlabel("quality score (kept records)")
        ax.set_ylabel("records")
        _margins(fig, left=0.85, bottom=0.6, top=0.2)
        written.append(out / "quality_score.png")
        fig.savefig(written[-1], dpi=90)
    return written
