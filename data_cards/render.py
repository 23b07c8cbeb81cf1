"""Render a version's data card (``README.md``) and plots from its manifest alone.

The card has Hugging Face YAML front matter (loadable by ``huggingface_hub.DatasetCard``)
and a body after "Datasheets for Datasets" (Gebru et al.): motivation, composition,
collection, preprocessing, uses, risks/PII, maintenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from data_cards.sections import body_sections


def size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
        (1_000_000_000, "100M<n<1B"),
    ):
        if n < limit:
            return label
    return "n>1T" if n >= 10**12 else "1B<n<10B"


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


def render_card(manifest: dict[str, Any]) -> str:
    head = yaml.safe_dump(front_matter(manifest), allow_unicode=True, sort_keys=False)
    return f"---\n{head}---\n\n" + "\n\n".join(body_sections(manifest)) + "\n"


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
