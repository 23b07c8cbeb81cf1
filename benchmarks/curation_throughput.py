"""Throughput of the curation chain against Data-Juicer and against a bare MinHash loop.

Two comparisons, each a ratio measured in the same run (medians over ``--reps`` interleaved reps):

(a) ``djchain`` — zhcurate with the operators of Data-Juicer's recipe (the peers'
    ``dj_recipe.yaml.tmpl``): heuristics with only min_chars 10 (text_length_filter min_len 10),
    max_dup_10gram_frac 0.6 (character_repetition_filter rep_len 10, max_ratio 0.6) and
    max_symbol_ratio 0.25 (special_characters_filter max_ratio 0.25) enabled, every other rule
    null; dedup_exact; dedup_minhash with character 5-grams, 256 permutations, Jaccard 0.7 —
    against ``dj-process`` running that recipe (np = ``--dj-np``) on the same file.
    Ratio = DJ wall / zhcurate wall with 2 workers (target >= 5).
(b) ``default`` — the whole curation chain of configs/curation.yaml (normalize ... quality)
    against the floor loop (peers' ``floors.py minhash``: parse JSONL + datasketch 128-permutation
    character-5-gram MinHash per record) with the same number of processes.
    Ratio = zhcurate wall / floor wall (target <= 4).

Walls are whole commands (start-up, reading, every stage, publishing the version with card and
plots for zhcurate; export for DJ). Per-stage records/s = the stage's input records / its worker
seconds (summed over workers; global stages include scan/reduce/finalize). Peak RSS is summed
over the process tree (treemem.py). Corpora: ``make_corpus.py`` (corpus.jsonl = every file of
the data dir, 72,116 records; corpus4x.jsonl = 4 copies, 3 of them with 2 % characters deleted);
without the peers' make_corpus.py the same two files are built here (``make_corpora``). Without
the peers' floors.py the floor job and ratio (b) are skipped (said on stderr); without
treemem.py peak RSS is that of the largest single process (bench_common.measured_plain).

Checkouts: ``--repos pre=/tmp/old,head=.`` runs the zhcurate jobs of every listed checkout (its
own run.py, so its own code) in every rep, in an order rotated per rep; jobs are then labelled
``default@head`` etc. and a table gives each checkout's wall / the first one's (per rep, median).
The stage list is this checkout's configs/curation.yaml for all of them.

    python benchmarks/curation_throughput.py [--work ../bench] [--data DIR] [--reps 3] [--no-dj]
    python benchmarks/curation_throughput.py --repos pre=/tmp/pre,head=. --no-dj --workers 2
    python benchmarks/curation_throughput.py --summarize ../bench/throughput.jsonl
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (  # noqa: E402
    DEFAULT_PEERS,
    DEFAULT_WORK,
    REPO,
    count_lines,
    default_stages,
    env_python,
    fmt_s,
    measured,
    median,
    now,
    run_zhcurate,
    write_config,
)
from dev_data import add_data_argument, data_dir  # noqa: E402

#: Seed of the character deletions in copies 2-4 of corpus4x.jsonl.
CORPUS_SEED = 0
#: Share of characters deleted in copies 2-4 (the peers' make_corpus.py: 2 %).
DELETE_FRAC = 0.02

#: Heuristics rules of the DJ recipe; every other rule of the stage is disabled (null).
DJ_RULES = {"min_chars": 10, "max_dup_10gram_frac": 0.6, "max_symbol_ratio": 0.25}
HEURISTIC_RULES = (
    "min_chars max_chars min_cjk_ratio min_mean_line_chars max_short_line_ratio "
    "min_terminal_punct max_newline_per_word max_dup_line_frac max_dup_line_char_frac "
    "max_top_2gram_frac max_top_3gram_frac max_top_4gram_frac max_dup_5gram_frac "
    "max_dup_6gram_frac max_dup_7gram_frac max_dup_8gram_frac max_dup_9gram_frac "
    "max_dup_10gram_frac max_char_run max_symbol_ratio max_digit_ratio max_url_ratio"
).split()


def djchain_stages() -> list[dict[str, Any]]:
    heur = {"type": "heuristics", **{k: DJ_RULES.get(k) for k in HEURISTIC_RULES}}
    return [
        heur,
        {"type": "dedup_exact"},
        {"type": "dedup_minhash", "num_perm": 256, "ngram": 5, "threshold": 0.7},
    ]


def make_corpora(src: Path, work: Path) -> None:
    """``work/corpus.jsonl``: every record of ``src/*.jsonl`` (sorted by file name) as
    {id, text}; ``work/corpus4x.jsonl``: 4 copies with ids suffixed ``#c1..#c4``, copies 2-4
    with ``DELETE_FRAC`` of their characters deleted at random (seed ``CORPUS_SEED``). The
    layout of the peers' make_corpus.py, built here when that file is absent."""
    import random

    import orjson

    rng = random.Random(CORPUS_SEED)
    records = []
    for f in sorted(src.glob("*.jsonl")):
        with open(f, "rb") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    obj = orjson.loads(line)
                    rid = obj.get("id")
                    records.append((str(rid) if rid is not None else f"{f.name}:{n}", obj["text"]))
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "corpus.jsonl", "wb") as fh:
        for rid, text in records:
            fh.write(orjson.dumps({"id": rid, "text": text}) + b"\n")
    with open(work / "corpus4x.jsonl", "wb") as fh:
        for c in range(1, 5):
            for rid, text in records:
                if c > 1:
                    text = "".join(ch for ch in text if rng.random() >= DELETE_FRAC)
                fh.write(orjson.dumps({"id": f"{rid}#c{c}", "text": text}) + b"\n")
    print(f"corpora: {len(records):,} records from {src} -> {work}", file=sys.stderr)


def parse_repos(spec: str | None) -> dict[str, Path]:
    """``label=DIR,...`` -> {label: checkout root}; each must hold run.py (else exit 2)."""
    if not spec:
        return {"this": REPO}
    out = {}
    for item in spec.split(","):
        label, sep, path = item.partition("=")
        root = Path(path).resolve()
        if not sep or not label or not (root / "run.py").exists():
            print(f"--repos {item!r}: expected LABEL=DIR with DIR/run.py", file=sys.stderr)
            raise SystemExit(2)
        out[label] = root
    return out


def run_floor(a: argparse.Namespace, corpus: Path, procs: int, log: Path) -> dict[str, Any]:
    out = a.work / "scratch" / "floor_out.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    res = measured(
        [
            a.floor_python,
            str(a.peers / "floors.py"),
            "minhash",
            str(corpus),
            str(out),
            "--procs",
            str(procs),
        ],
        a.peers,
        log,
    )
    out.unlink(missing_ok=True)
    return res


def run_dj(a: argparse.Namespace, corpus: Path, log: Path) -> dict[str, Any]:
    import re

    run_dir = a.work / "scratch" / "dj_run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cfg = (
        (a.peers / "dj_recipe.yaml.tmpl")
        .read_text()
        .replace("@DATASET@", str(corpus))
        .replace("@EXPORT@", str(run_dir / "out.jsonl"))
        .replace("@WORKDIR@", str(run_dir / "work"))
        .replace("@NP@", str(a.dj_np))
        .replace("@USE_CACHE@", "false")
    )
    (run_dir / "cfg.yaml").write_text(cfg)
    dj = str(Path(a.dj_python).parent / "dj-process")
    res = measured([dj, "--config", str(run_dir / "cfg.yaml")], a.peers, log, cwd=run_dir)
    text = log.read_text(errors="replace")
    res["ops"] = [
        (o, float(s), int(n))
        for o, s, n in re.findall(r"OP \[(\w+)\] Done in ([\d.]+)s\. Left (\d+) samples", text)
    ]
    res["installs_at_runtime"] = len(re.findall(r"Installing \S+ using uv", text))
    out = run_dir / "out.jsonl"
    res["kept"] = count_lines(out) if out.exists() else None
    shutil.rmtree(run_dir, ignore_errors=True)
    return res


def jobs(
    a: argparse.Namespace, corpus: Path, configs: dict[str, Path], rep: int = 0
) -> list[tuple]:
    """(label, workers, thunk) for one corpus, in the order they run within a rep (the
    checkouts of ``--repos`` rotated by ``rep``)."""
    out = []
    labels = list(a.repos)
    order = labels[rep % len(labels) :] + labels[: rep % len(labels)]
    for w in a.workers:
        if a.floor:
            out.append(("floor", w, lambda lg, w=w: run_floor(a, corpus, w, lg)))
        for v in a.variants:
            for r in order:
                job = v if len(labels) == 1 else f"{v}@{r}"
                out.append(
                    (
                        job,
                        w,
                        lambda lg, v=v, w=w, r=r: run_zhcurate(
                            configs[v],
                            corpus,
                            w,
                            a.work / "scratch" / f"zc_{v}",
                            a.peers,
                            lg,
                            repo=a.repos[r],
                        ),
                    )
                )
    if a.dj_python and corpus.name in a.dj_corpora:
        out.append(("dj", a.dj_np, lambda lg: run_dj(a, corpus, lg)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="corpora, venvs (dj-venv, floor-venv), logs, results (outside the repo)",
    )
    add_data_argument(ap)  # DIR/web/*.jsonl feed make_corpus.py
    ap.add_argument("--peers", type=Path, default=DEFAULT_PEERS)
    ap.add_argument("--corpora", default="corpus.jsonl,corpus4x.jsonl")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--variants", default="default,djchain")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-dj", action="store_true", help="skip Data-Juicer even if its venv exists")
    ap.add_argument("--dj-python", help="default: WORK/dj-venv/bin/python (skipped if absent)")
    ap.add_argument("--dj-np", type=int, default=2)
    ap.add_argument("--dj-corpora", default="corpus.jsonl")
    ap.add_argument(
        "--floor-python",
        help="needs orjson + datasketch; default: WORK/floor-venv "
        "if present, else this interpreter",
    )
    ap.add_argument(
        "--repos",
        help="LABEL=DIR,... checkouts whose run.py to measure, interleaved (default: this one)",
    )
    ap.add_argument("--results", type=Path, help="JSON lines (default WORK/throughput.jsonl)")
    ap.add_argument("--summarize", type=Path, help="only print the tables of a results file")
    a = ap.parse_args()
    if a.summarize:
        summarize([json.loads(x) for x in a.summarize.read_text().splitlines() if x.strip()])
        return
    a.work = a.work.resolve()
    a.workers = [int(x) for x in a.workers.split(",")]
    a.variants = [v for v in a.variants.split(",") if v]
    a.dj_corpora = set(a.dj_corpora.split(","))
    a.dj_python = None if a.no_dj else env_python(a.work, "dj-venv", a.dj_python)
    a.floor_python = env_python(a.work, "floor-venv", a.floor_python) or sys.executable
    a.repos = parse_repos(a.repos)
    a.floor = (a.peers / "floors.py").exists()
    if not a.floor:
        print(
            f"{a.peers / 'floors.py'} not found: floor job and ratio (b) skipped "
            "(pass --peers DIR holding the peers' scripts)",
            file=sys.stderr,
        )
    results = a.results or a.work / "throughput.jsonl"
    corpora = [a.work / c for c in a.corpora.split(",")]
    if not all(c.exists() for c in corpora) and not (a.peers / "make_corpus.py").exists():
        make_corpora(data_dir(a.data, "web") / "web", a.work)
    elif not all(c.exists() for c in corpora):
        subprocess.check_call(
            [
                sys.executable,
                str(a.peers / "make_corpus.py"),
                str(data_dir(a.data, "web") / "web"),
                str(a.work),
            ]
        )
    configs = {
        "default": write_config(
            a.work / "configs" / "default.yaml", default_stages(), "bench_default"
        ),
        "djchain": write_config(
            a.work / "configs" / "djchain.yaml", djchain_stages(), "bench_djchain"
        ),
    }
    n_in = {c.name: count_lines(c) for c in corpora}
    if not a.dj_python and not a.no_dj:
        print("Data-Juicer venv not found (WORK/dj-venv): DJ part skipped", file=sys.stderr)
    rows = []
    for rep in range(1, a.reps + 1):
        for corpus in corpora:
            for label, w, thunk in jobs(a, corpus, configs, rep):
                log = a.work / "logs" / f"{label}_w{w}_{corpus.stem}_r{rep}.log"
                res = thunk(log)
                row = {
                    "job": label,
                    "workers": w,
                    "corpus": corpus.name,
                    "rep": rep,
                    "repo": str(a.repos[label.split("@")[1]]) if "@" in label else str(REPO),
                    "records": n_in[corpus.name],
                    "ts": now(),
                    **res,
                }
                rows.append(row)
                with open(results, "a") as fh:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                print(
                    f"rep {rep} {corpus.name:<16} {label:<8} w={w}  wall {res.get('wall_s')} s"
                    f"  rss {res.get('rss_mib')} MiB  load {res['load_before']:.1f}",
                    flush=True,
                )
    summarize(rows)


def summarize(rows: list[dict[str, Any]]) -> None:
    """Print the tables: overall, per stage, and the two ratios (per-rep ratios, median)."""
    ok = [r for r in rows if r.get("rc") == 0 and r.get("wall_s")]
    keys = sorted(
        {(r["corpus"], r["job"], r["workers"]) for r in ok},
        key=lambda k: (k[0] != "corpus.jsonl", k[0], k[1], k[2]),
    )
    print(
        f"\n{'corpus':<16}{'job':<14}{'procs':>5}{'reps':>5}{'wall s':>9}{'range':>13}"
        f"{'rec/s':>9}{'peak RSS MiB':>13}{'kept':>9}{'load1':>7}"
    )
    for c, j, w in keys:
        rs = [r for r in ok if (r["corpus"], r["job"], r["workers"]) == (c, j, w)]
        walls = [r["wall_s"] for r in rs]
        m = median(walls)
        print(
            f"{c:<16}{j:<14}{w:>5}{len(rs):>5}{m:>9.1f}{f'{min(walls):.1f}-{max(walls):.1f}':>13}"
            f"{rs[0]['records'] / m:>9.0f}{median([r.get('rss_mib') for r in rs]):>13.0f}"
            f"{str(rs[0].get('kept', '-')):>9}{median([r['load_before'] for r in rs]):>7.1f}"
        )
    stage_table(ok)
    ratio_table(ok)


def stage_table(ok: list[dict[str, Any]]) -> None:
    print(
        "\nPer stage: records in / worker seconds (median over reps; global stages include "
        "scan/reduce/finalize)"
    )
    for r0 in ok:
        if not r0.get("stages") or r0["rep"] != min(r["rep"] for r in ok):
            continue
        same = [
            r
            for r in ok
            if (r["corpus"], r["job"], r["workers"]) == (r0["corpus"], r0["job"], r0["workers"])
            and r.get("stages")
        ]
        cells = []
        for name, (n, _) in r0["stages"].items():
            secs = median([r["stages"][name][1] for r in same])
            cells.append(f"{name} {n / max(secs, 1e-9):,.0f}/s ({fmt_s(secs)} s)")
        print(f"  {r0['corpus']:<16}{r0['job']:<14}w={r0['workers']}: " + "; ".join(cells))


def checkout_ratios(ok: list[dict[str, Any]], wall: Any) -> None:
    """Wall of ``variant@label`` / wall of ``variant@<first label>`` per rep, then the median."""
    by_variant: dict[str, list[str]] = {}
    for r in ok:
        if "@" in r["job"]:
            v, label = r["job"].split("@", 1)
            if label not in by_variant.setdefault(v, []):
                by_variant[v].append(label)
    for c in sorted({r["corpus"] for r in ok}):
        for v, labels in by_variant.items():
            base = next((x for x in labels if x == "pre"), labels[0])
            for w in sorted({r["workers"] for r in ok if r["job"].startswith(v + "@")}):
                for label in labels:
                    if label == base:
                        continue
                    reps = sorted({r["rep"] for r in ok if r["corpus"] == c})
                    pairs = [
                        (wall(c, f"{v}@{label}", w, k), wall(c, f"{v}@{base}", w, k)) for k in reps
                    ]
                    xs = [x / y for x, y in pairs if x and y]
                    if xs:
                        print(
                            f"  {c:<16} {v} w={w}: {label} / {base} wall {median(xs):.3f}x "
                            f"(reps {', '.join(f'{x:.3f}' for x in xs)})"
                        )


def ratio_table(ok: list[dict[str, Any]]) -> None:
    def wall(c: str, j: str, w: int, rep: int) -> float | None:
        hit = [
            r["wall_s"]
            for r in ok
            if (r["corpus"], r["job"], r["workers"], r["rep"]) == (c, j, w, rep)
        ]
        return hit[0] if hit else None

    print("\nRatios (computed per rep, then the median):")
    checkout_ratios(ok, wall)
    for c in sorted({r["corpus"] for r in ok}):
        reps = sorted({r["rep"] for r in ok if r["corpus"] == c})
        for w in sorted({r["workers"] for r in ok if r["job"] == "default" and r["corpus"] == c}):
            xs = [
                wall(c, "default", w, k) / wall(c, "floor", w, k)
                for k in reps
                if wall(c, "default", w, k) and wall(c, "floor", w, k)
            ]
            if xs:
                print(
                    f"  (b) {c:<16} default / floor, {w} proc: {median(xs):.2f}x "
                    f"(reps {', '.join(f'{x:.2f}' for x in xs)}; target <= 4)"
                )
        dj = [r for r in ok if r["corpus"] == c and r["job"] == "dj"]
        for w in sorted({r["workers"] for r in ok if r["job"] == "djchain" and r["corpus"] == c}):
            xs = [
                wall(c, "dj", r["workers"], r["rep"]) / wall(c, "djchain", w, r["rep"])
                for r in dj
                if wall(c, "djchain", w, r["rep"])
            ]
            if xs:
                print(
                    f"  (a) {c:<16} DJ (np={dj[0]['workers']}) / djchain w={w}: "
                    f"{median(xs):.2f}x (reps {', '.join(f'{x:.2f}' for x in xs)}; "
                    f"target >= 5)"
                )


if __name__ == "__main__":
    main()
