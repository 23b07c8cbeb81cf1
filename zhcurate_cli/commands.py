"""The CLI commands (``run.py`` only parses arguments and maps errors to exit codes)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import resolve
from pipeline.errors import ConfigError
from pipeline.identity import config_hash, run_identity


def cmd_run(args: argparse.Namespace) -> int:
    from data_cards.plot_worker import PlotWorker

    # forked first, so that matplotlib loads on another core while this process imports,
    # validates and plans (on 2 cores it otherwise competes with the workers)
    plotter = PlotWorker()
    try:
        return _run(args, plotter)
    finally:
        plotter.close()


def _run(args: argparse.Namespace, plotter: Any) -> int:
    import gc

    from pipeline.gc_pause import gc_paused

    # what is imported here is never garbage: no collections while importing, then out of
    # every future collection (shared copy-on-write by forked workers too); measured 5-10 %
    # of a short run's wall time, most of it in the collection at exit
    with gc_paused():
        from pipeline.executors.local import preload_for_workers
        from pipeline.progress import Progress
        from pipeline.runner import run

        config = resolve(args.config, args.overrides)
        preload_for_workers()
        gc.freeze()
    show = {"auto": None, "always": True, "never": False}[args.progress]
    result = run(config, args.config, force=args.force, progress=Progress(show), plotter=plotter)
    if result["status"] == "unchanged":
        print(result["message"])
        return 0
    for d in result["datasets"]:
        c = d["counts"]
        print(
            f"published {d['version']}: input {c['input']} = kept {c['kept']} + rejected "
            f"{c['rejected']} + quarantined {c['quarantined']}"
        )
    for s in result["stages"]:
        rate = s["in"] / s["seconds"] if s["seconds"] else float("inf")
        print(
            f"  {s['name']:<16} in {s['in']:>9}  out {s['out']:>9}  "
            f"{s['seconds']:8.2f} s  {rate:>10,.0f} rec/s (worker time)"
        )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    config = resolve(args.config, args.overrides)
    from pipeline.redact import redact_config

    print(yaml.safe_dump(redact_config(config), allow_unicode=True, sort_keys=False), end="")
    print(f"# config_hash: {config_hash(config)}")
    print(f"# run_identity: {run_identity(config)}  (what decides 'nothing new')")
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    from pipeline.registry import STAGES
    from pipeline.schema import plain, stage_param_types, type_name
    from pipeline.stage import param_specs

    listing: list[dict[str, Any]] = []
    for name, cls in STAGES.items():
        types = stage_param_types(cls)
        doc = (cls.__doc__ or "").strip().splitlines()
        listing.append(
            {
                "type": name,
                "kind": cls.kind,
                "version": cls.version,
                "summary": doc[0] if doc else "",
                "params": [
                    {"name": p, "type": type_name(types[p]), "default": plain(d)}
                    for p, _t, d in param_specs(cls)
                ],
            }
        )
    if args.json:
        print(json.dumps(listing, ensure_ascii=False, indent=1, default=str))
        return 0
    for entry in listing:
        print(f"{entry['type']}  ({entry['kind']} stage, v{entry['version']})")
        if entry["summary"]:
            print(f"    {entry['summary']}")
        for p in entry["params"]:
            print(f"    {p['name']:<24} {p['type']:<28} default: {p['default']!r}")
        print()
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from data_cards.render import render_card
    from pipeline.io.location import url_fs
    from pipeline.store import load_manifest

    card = render_card(load_manifest(args.version_dir))
    fs, path = url_fs(args.version_dir)
    published = f"{path}/README.md"
    same = fs.exists(published) and fs.cat_file(published).decode("utf-8") == card
    if args.out:
        Path(args.out).write_text(card, "utf-8")
    else:
        sys.stdout.write(card)
    print(
        f"card {'matches' if same else 'differs from'} the published "
        f"{args.version_dir.rstrip('/')}/README.md",
        file=sys.stderr,
    )
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from pipeline.diff import diff_versions, format_diff

    result = diff_versions(args.version_a, args.version_b, args.ids)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else format_diff(result))
    return 0


def cmd_train_quality(args: argparse.Namespace) -> int:
    from filters.quality_train import build_default_model, train_quality

    if args.default:
        print(f"default model: {build_default_model(force=True)}")
        return 0
    if not args.inputs or not args.out:
        raise ConfigError(
            "train-quality: give labelled JSONL files or published versions and "
            "--out (or --default)"
        )
    for path in args.inputs:
        if not Path(path).exists():
            raise ConfigError(f"train-quality: input not found: {path}")
    try:
        m = train_quality(
            args.inputs,
            args.out,
            tokenize_mode=args.tokenize,
            valid_fraction=args.valid_fraction,
            split_seed=args.seed,
            threshold=args.threshold,
            label_field=args.label_field,
            seed=args.seed,
        )
    except ValueError as exc:
        raise ConfigError(f"train-quality: {exc}") from None
    print(f"trained on {m['n_train']} records ({m['tokenize']} tokens) -> {args.out}")
    if "f1" in m:
        print(
            f"held-out {m['n_valid']}: precision {m['precision']:.3f}  recall "
            f"{m['recall']:.3f}  F1 {m['f1']:.3f}  AUC {m['auc']:.3f}"
        )
    print(f"use it: {{type: quality, model_path: {args.out}}}")
    return 0


def cmd_reference(args: argparse.Namespace) -> int:
    from zhcurate_cli.reference import render_reference

    text = render_reference()
    if args.check:
        current = Path(args.out).read_text("utf-8") if Path(args.out).exists() else ""
        if current != text:
            print(
                f"{args.out} is out of date: run `python run.py reference --out {args.out}`",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is up to date")
        return 0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, "utf-8")
    print(f"wrote {args.out}")
    return 0
