"""zhcurate command line: run, validate, stages, card, diff.

Exit codes: ``pipeline.errors.ExitCode`` (listed by ``--help``). Errors are one line on stderr
(``--debug`` shows the traceback and turns on the workers' stage contract checks). SIGTERM is
handled like Ctrl-C (``pipeline.signals``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline.errors import EXIT_CODE_HELP, ConfigError, ExitCode  # noqa: E402
from pipeline.redact import RedactingFilter, redact_url  # noqa: E402
from pipeline.signals import Terminated, handle_stop_signals, received  # noqa: E402
from pipeline.store import LockedError  # noqa: E402
from zhcurate_cli.commands import (  # noqa: E402
    cmd_card,
    cmd_diff,
    cmd_reference,
    cmd_run,
    cmd_stages,
    cmd_train_quality,
    cmd_validate,
)

#: What the one line printed on Ctrl-C or SIGTERM adds (the finally blocks have run by then).
STOPPED = "workers stopped, lock released; run the same command again to resume"

EPILOG = """\
--set takes dotted.key=value pairs; the value is parsed as YAML:
  --set output.dir=/tmp/x   --set input.paths='[a.jsonl, b/*.jsonl.gz]'
Inside stages, address a stage by list index or by type (the first stage of that type):
  --set stages.1.min_chars=300   --set stages.heuristics.min_chars=300
"""


def exit_codes_text() -> str:
    """The exit-code table of ``--help`` (from ``pipeline.errors``)."""
    rows = [f"  {int(code):>3}  {text}" for code, text in EXIT_CODE_HELP.items()]
    return "exit codes:\n" + "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="zhcurate",
        formatter_class=fmt,
        description="Curate raw Chinese text into versioned LLM training datasets.",
        epilog="Run 'zhcurate COMMAND --help' for the options of a command.\n\n"
        + exit_codes_text(),
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks on errors; workers check stage contracts (ZHCURATE_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run a config and publish a new dataset version",
        formatter_class=fmt,
        epilog=EPILOG,
        description=(
            "Run the pipeline described by CONFIG and publish "
            "<output.dir>/<name>/vNNNN. Interrupted runs resume where they "
            "stopped when started again with the same command."
        ),
    )
    p.add_argument("config", help="YAML config file")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (repeatable)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="publish a new version even if one with the same config and input exists",
    )
    p.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="progress bars: auto = only on a terminal",
    )
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser(
        "validate",
        help="validate a config and print it resolved, with its hash",
        formatter_class=fmt,
        epilog=EPILOG,
    )
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(fn=cmd_validate)

    p = sub.add_parser("stages", help="list every stage with its parameters, types and defaults")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(fn=cmd_stages)

    p = sub.add_parser(
        "card",
        help="re-render a version's data card from its manifest",
        description="Render VERSION_DIR/manifest.json to a data card. Published "
        "versions are immutable, so the card goes to --out (default: stdout); "
        "the command says whether it matches the published README.md.",
    )
    p.add_argument("version_dir")
    p.add_argument("--out", help="write the card here instead of stdout")
    p.set_defaults(fn=cmd_card)

    p = sub.add_parser(
        "train-quality",
        formatter_class=fmt,
        help="train a fastText quality classifier from labelled JSONL",
        description=(
            "Train a quality classifier for the `quality` stage from JSONL records "
            "{text, label}. Labels are high/low (or 1/0); with --threshold, "
            "numeric scores (e.g. the 0-5 ratings of llm_quality_annotate) are "
            "binarized as score >= threshold. A seeded split is held out and "
            "its precision/recall/F1 printed. --default rebuilds the bundled "
            "default model."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="*",
        help="labelled JSONL files (.jsonl or .jsonl.gz), or "
        "published versions / parquet files (labels from stats: --label-field "
        "llm_quality_annotate.score --threshold 3)",
    )
    p.add_argument("--out", help="model file to write (.bin); a .json sidecar holds metrics")
    p.add_argument("--threshold", type=float, help="binarize numeric labels at this score")
    p.add_argument("--label-field", default="label", help="field holding the label")
    p.add_argument(
        "--tokenize",
        default="chars",
        choices=["chars", "words", "words+chars"],
        help="fastText input tokens (default: chars, the measured best)",
    )
    p.add_argument("--valid-fraction", type=float, default=0.2, help="held-out share")
    p.add_argument("--seed", type=int, default=0, help="split and training seed")
    p.add_argument("--default", action="store_true", help="rebuild the default model")
    p.set_defaults(fn=cmd_train_quality)

    p = sub.add_parser("diff", help="compare two versions: counts, per-stage changes, ids")
    p.add_argument("version_a")
    p.add_argument("version_b")
    p.add_argument("--ids", type=int, default=10, help="ids added/removed to list (default 10)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(fn=cmd_diff)
    p = sub.add_parser(
        "reference",
        help="write the configuration reference (docs/configuration.md) from the code",
        description="Generate the configuration reference from the config schema and the "
        "stage dataclasses (types, defaults and the #: comments above each field).",
    )
    p.add_argument("--out", default="docs/configuration.md", help="file to write")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the file differs from the generated text (writes nothing)",
    )
    p.set_defaults(fn=cmd_reference)
    return parser


def stopped(signum: int) -> ExitCode:
    """Say how the run was stopped (one line); its exit code."""
    how = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "stopped by SIGTERM"
    print(f"zhcurate: {how}; {STOPPED}", file=sys.stderr)
    return ExitCode.SIGINT if signum == signal.SIGINT else ExitCode.SIGTERM


def main(argv: list[str] | None = None) -> int:
    handle_stop_signals()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:  # read by the workers: pipeline.stage.debug_checks (they inherit it)
        os.environ["ZHCURATE_DEBUG"] = "1"
    # our messages at INFO; libraries' (botocore, urllib3 ...) only from WARNING up
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("zhcurate").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    try:
        return args.fn(args)
    except ConfigError as exc:
        print(f"zhcurate: config error: {redact_url(str(exc))}", file=sys.stderr)
        return ExitCode.USAGE
    except LockedError as exc:
        print(f"zhcurate: {exc}", file=sys.stderr)
        return ExitCode.LOCKED
    except KeyboardInterrupt:
        return stopped(signal.SIGINT)
    except Terminated:
        return stopped(signal.SIGTERM)
    except SystemExit:  # a library's own SIGTERM handler (Ray's exits 1) ran after ours
        if received() is None:
            raise
        return stopped(received())
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        if received() is not None:  # a stop signal that surfaced as another error
            return stopped(received())
        if args.debug:
            raise
        from pipeline.errors import describe

        print(f"zhcurate: {redact_url(describe(exc))}", file=sys.stderr)
        return ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(int(main()))
