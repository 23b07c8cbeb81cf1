"""Body sections of the data card, after "Datasheets for Datasets" (Gebru et al., 2021)."""

from __future__ import annotations

from typing import Any


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ⏎ ").replace("`", "'")


def stage_table(manifest: dict[str, Any]) -> str:
    rows = [
        "| # | stage | in | out | kept | dropped (reason: n) | quarantined | seconds |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for i, s in enumerate(manifest["stages"], 1):
        dropped = ", ".join(f"`{r}`: {n}" for r, n in s["dropped"].items()) or "–"
        rows.append(
            f"| {i} | `{s['name']}` | {s['in']} | {s['out']} | {_pct(s['out'], s['in'])} "
            f"| {dropped} | {s['quarantined']} | {s['seconds']:.2f} |"
        )
    return "\n".join(rows)


def examples_block(manifest: dict[str, Any]) -> str:
    lines = []
    for reason, items in sorted(manifest["examples"].items()):
        lines.append(f"- **`{reason}`**")
        for ex in items:
            lines.append(f"  - `{_md_escape(ex['id'])}`: {_md_escape(ex['text'])}")
    return "\n".join(lines) or "No record was dropped."


def stats_block(manifest: dict[str, Any]) -> str:
    stats = manifest["summary"]["stats"]
    if not stats:
        return "No stage recorded numeric measurements."
    rows = [
        "| stage | measurement | sum | mean | p10 | p50 | p90 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for stage, values in stats.items():
        for key, v in values.items():
            rows.append(
                f"| `{stage}` | `{key}` | {v['sum']:g} | {v['mean']:.4g} | {v['p10']:.4g} "
                f"| {v['p50']:.4g} | {v['p90']:.4g} |"
            )
    return "\n".join(rows)


def quality_block(manifest: dict[str, Any]) -> str:
    score = manifest["summary"]["stats"].get("quality", {}).get("score")
    if not score:
        return ""
    return (
        "\n\n### Quality scores\n\nP(high quality) of the kept records from the `quality` "
        f"classifier: median {score['p50']:.3f}, 10th percentile {score['p10']:.3f}, 90th "
        f"percentile {score['p90']:.3f}.\n\n![quality scores](plots/quality_score.png)"
    )


def pii_block(manifest: dict[str, Any]) -> str:
    stages = manifest["stages"]
    pii = next((i for i, s in enumerate(stages) if s["type"] == "pii"), None)
    if pii is None:
        return (
            "No PII masking stage ran in this version: the text may contain phone numbers, "
            "ID numbers, emails and other personal data. Add the `pii` stage before release."
        )
    sums = stages[pii]["stat_sums"]
    counts = ", ".join(f"{k}: {int(v)}" for k, v in sums.items()) or "none found"
    before = [s["name"] for s in stages[:pii] if s["dropped"]]
    caveat = (
        f" Records dropped before the `pii` stage (by {', '.join(before)}) are published "
        "in `rejected/` unmasked: mask or withhold that folder before sharing it."
        if before
        else ""
    )
    return (
        "Personal data was masked by the `pii` stage with typed placeholders (`<PHONE>`, "
        "`<ID_CARD>`, `<BANK_CARD>`, `<EMAIL>`, `<IP>`, `<QQ>`, `<WECHAT>`). Masked "
        f"occurrences: {counts}. Masking is pattern-based: names and street addresses are "
        f"not masked.{caveat}"
    )


LAYOUTS = {
    "sft": "`instruction`, `input`, `output` (Alpaca style) and `messages` (chat format: a user "
    "and an assistant turn)",
    "instructions": "`instruction` and `input` (tasks still to be answered)",
    "preference": "`prompt`, `chosen`, `rejected`, `chosen_score`, `rejected_score` (DPO layout)",
}


def _num(value: float | None, spec: str = ".1%") -> str:
    return "–" if value is None else format(value, spec)


def synthesis_block(m: dict[str, Any]) -> str:
    """Models, prompt templates, sampling, LLM cost and failure rates of a generated set."""
    syn = m.get("synthesis")
    if not syn:
        return ""
    engines = [
        "| stage | engine | model | template | template sha256 | sampling |",
        "|---|---|---|---|---|---|",
    ]
    for e in syn["engines"]:
        sampling = ", ".join(f"{k}={v}" for k, v in (e.get("sampling") or {}).items())
        engines.append(
            f"| `{e['stage']}` | {e['backend']} | `{e['model']}` | `{e['template']}` "
            f"| `{(e['template_sha256'] or '')[:16]}…` | {sampling} |"
        )
    calls = [
        "| stage | records | calls | cache hits | cache misses | prompt tokens | completion "
        "tokens | decoded here | seconds | tokens/s | parse failures | truncated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in syn["llm_stages"]:
        calls.append(
            f"| `{f['name']}` | {f['records']} | {f['calls']} | {f['cache_hits']} | "
            f"{f['cache_misses']} | {f['prompt_tokens']} | {f['completion_tokens']} | "
            f"{f['engine_tokens']} | {f['seconds']:.1f} | "
            f"{_num(f['engine_tokens_per_s'], '.1f')} | "
            f"{f['parse_errors']} ({_num(f['parse_failure_rate'])}) | "
            f"{f['truncated']} ({_num(f['truncation_rate'])}) |"
        )
    judge = (
        f"Judge order-swap consistency: {_num(syn['judge_consistency_rate'])} of "
        f"{syn['judge_pairs']} pairs judged in both orders agreed (a verdict is kept only "
        "when both orders agree)."
        if syn["judge_pairs"]
        else "The judge scored responses pointwise (no order-swapped pairs)."
    )
    layout = LAYOUTS.get(syn["format"], "")
    return (
        "## Synthesis\n\nEvery record of this dataset was machine-generated "
        "(`annotations_creators: machine-generated`) from the curated documents named in "
        "`meta.source_id`; each value's model, sampling parameters, prompt template hash, "
        "tokens and finish reason are in `meta`."
        + (f" Columns for training: {layout}." if layout else "")
        + "\n\n### Engines, prompt templates and sampling\n\n"
        + "\n".join(engines)
        + "\n\n### LLM calls\n\n"
        + "\n".join(calls)
        + f"\n\nTokens generated: {syn['tokens_generated']}; calls: {syn['calls']} "
        f"({syn['cache_hits']} answered from the LLM cache, {syn['cache_misses']} by the "
        f"engine); parse-failure rate: {_num(syn['parse_failure_rate'])}. {judge} "
        '"Decoded here" counts the completion tokens the engine produced in this run '
        "(the rest came from the LLM cache); tokens/s = decoded tokens / stage seconds."
    )


#: What each guard rejection of a generating stage means (see ``synth/guards.py``).
REJECTION_MEANINGS = {
    "copied_source": "the instruction is mostly copied from its source document",
    "no_task_form": "no question or task (no question mark, question word or task verb)",
    "incomplete": "the instruction was cut mid-sentence (open bracket or trailing comma)",
    "answer_fragment": "the answer is a fragment (too short, open bracket, no content)",
    "not_novel": "too close to an earlier instruction (char ROUGE-L)",
    "unsupported": "the answer is not grounded in the document",
    "parse_error": "the output did not parse under the JSON schema",
    "truncated": "the output hit max_tokens",
}


def rejected_generations_block(m: dict[str, Any]) -> str:
    """The rejection rate per reason of each LLM stage that rejected any generated record."""
    figures = [f for f in (m.get("synthesis") or {}).get("llm_stages", []) if f.get("rejections")]
    if not figures:
        return ""
    rows = [
        "| stage | reason | rejected | share of generated | meaning |",
        "|---|---|---:|---:|---|",
    ]
    for f in figures:
        for r in f["rejections"]:
            rows.append(
                f"| `{f['name']}` | `{r['reason']}` | {r['n']} | {_num(r['rate'])} "
                f"| {REJECTION_MEANINGS.get(r['reason'], '')} |"
            )
    return (
        "## Rejected generations\n\nGenerated records that a check rejected (they are in "
        "`rejected/` with the reason, not in the data); share = rejected / records the stage "
        "generated.\n\n" + "\n".join(rows)
    )


def body_sections(m: dict[str, Any]) -> list[str]:
    c, card = m["counts"], m["config"]["card"]
    inputs = "\n".join(
        f"| `{i['path']}` | {i['format']} | {i['records']} | {i['quarantined']} "
        f"| `{i['sha256'][:16]}…` |"
        for i in m["inputs"]
    )
    code = m["code"]
    title = card["pretty_name"] or m["name"]
    return [
        f"# {title} ({m['version']})",
        "## Motivation\n\n"
        + (
            card["description"]
            or f"Curated Chinese text produced by zhcurate from the config "
            f"`{m['config_path']}` (sha256 `{m['config_hash'][:16]}…`)."
        ),
        f"## Composition\n\n{c['kept']} records kept of {c['input']} read "
        f"({_pct(c['kept'], c['input'])}); {c['rejected']} rejected with a reason, "
        f"{c['quarantined']} quarantined with an error; input = kept + rejected + quarantined "
        f"was checked. Each record has `id`, `text`, `meta` (JSON: the input's other fields) "
        f"and `stats` (JSON: every stage's measurements, for re-tuning thresholds).\n\n"
        "![length distribution](plots/length_hist.png)",
        "## Collection\n\n| input | format | records | quarantined | sha256 |\n"
        f"|---|---|---:|---:|---|\n{inputs}",
        "## Preprocessing\n\n"
        + stage_table(m)
        + "\n\n![drop reasons](plots/drop_reasons.png)"
        + "\n\n### Examples of dropped records (truncated)\n\n"
        + examples_block(m)
        + "\n\n### Measurements of kept records\n\n"
        + stats_block(m)
        + quality_block(m),
        *([synthesis_block(m)] if m.get("synthesis") else []),
        *([block] if (block := rejected_generations_block(m)) else []),
        "## Uses\n\n"
        + (
            "Supervised fine-tuning or preference optimization (DPO) of Chinese chat models. "
            "The text was written by the model named above: check its licence and terms, "
            "and review a sample before training."
            if m.get("synthetic")
            else "Pre-training or continued pre-training of Chinese language models, and as "
            "grounding text for instruction synthesis."
        )
        + " Check the licence of every input before redistribution.",
        "## Risks and PII handling\n\n" + pii_block(m),
        f"## Maintenance\n\nVersion `{m['version']}` of `{m['name']}` is immutable; a later run "
        f"publishes a new version. Built by zhcurate {code['package_version']} (git "
        f"`{code['git_commit'] or 'unknown'}`{', dirty tree' if code['git_dirty'] else ''}) "
        f"from {m['started']} to {m['finished']}. Reproduce with `python run.py run "
        f"{m['config_path']}`; the resolved config and file checksums are in `manifest.json`.",
    ]
