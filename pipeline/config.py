"""Load, layer, override and validate a run config; every problem is one :class:`ConfigError`.

A config is one YAML file (``yaml.safe_load`` only)::

    name: default              # dataset name: output goes to <output.dir>/<name>/vNNNN
    extends: base.yaml         # optional, relative to this file; this file's keys win
    input:  {paths: [...], format: auto, text_field: text, id_field: id, ...}
    output: {dir: out}
    executor: {type: local, workers: null}
    stages: [{type: normalize}, {type: heuristics, min_chars: 200}, ...]
    card: {license: ..., pretty_name: ...}

``--set`` overrides use dotted paths whose values are parsed as YAML. Inside ``stages`` a
path element is either the list index (``stages.1.min_chars``) or a stage type
(``stages.heuristics.min_chars``, the first stage of that type).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError, excerpt
from pipeline.input_paths import check_output_location, expand_inputs
from pipeline.schema import SECTIONS, check_name, check_section, check_stage_params

#: Largest config file read (bytes): a recipe is a few KB; this bounds a mistaken path
#: (a data file, ``/dev/zero``) instead of reading it into memory.
MAX_CONFIG_BYTES = 1 << 20
#: Most values (mapping entries and list items, counted after YAML aliases are expanded) a
#: config may hold: the bundled recipes hold < 500; an alias bomb ("billion laughs") holds 10^9.
MAX_CONFIG_VALUES = 100_000


def check_expanded_size(data: Any, where: str) -> None:
    """ConfigError if ``data`` holds more than :data:`MAX_CONFIG_VALUES` values once aliases
    are expanded; the walk stops at the limit, so an alias bomb costs no more than that."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            count += len(node)
            stack.extend(node)
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{where}: expands to more than {MAX_CONFIG_VALUES:,} values (YAML aliases "
                "repeating each other?); a config is a few hundred"
            )


def read_config_text(path: Path) -> str:
    """The text of a config file, at most :data:`MAX_CONFIG_BYTES` (else ConfigError)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES >> 20} MiB; is it a config file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); is it a config file?"
        ) from None


def load_yaml(path: Path) -> dict[str, Any]:
    text = read_config_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {_yaml_error(exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    check_expanded_size(data, str(path))
    return data


def _yaml_error(exc: yaml.YAMLError) -> str:
    """A YAML error in one short line: the problem and its line/column, no snippet."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = excerpt(exc.problem or exc.context or "syntax error", quote=False)
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return excerpt(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, quote=False)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; lists (e.g. ``stages``) are replaced, not concatenated."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_layers(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a config and the chain of files it ``extends``."""
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"extends cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    data = load_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends must be a file path (string)")
    return merge(load_layers(path.parent / parent, (*seen, path)), data)


def _stage_index(stages: list[Any], key: str) -> int:
    if key.lstrip("-").isdigit():
        idx = int(key)
        if not -len(stages) <= idx < len(stages):
            raise ConfigError(
                f"--set: stages.{key}: no stage at index {key} ({len(stages)} stages)"
            )
        return idx % len(stages)
    matches = [i for i, s in enumerate(stages) if isinstance(s, dict) and s.get("type") == key]
    if not matches:
        names = [s.get("type") for s in stages if isinstance(s, dict)]
        raise ConfigError(
            f"--set: stages.{key}: no stage of type {excerpt(key)}; stages are {names}"
        )
    return matches[0]


def apply_override(config: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.path=yaml-value`` override in place."""
    if "=" not in assignment:
        raise ConfigError(f"--set {excerpt(assignment)}: expected dotted.key=value")
    dotted, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {dotted}: value is not valid YAML: {_yaml_error(exc)}") from None
    parts = dotted.strip().split(".")
    node: Any = config
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_stage_index(node, part)]
        else:
            node = node.setdefault(part, [] if part == "stages" and i == 0 else {})
        if not isinstance(node, (dict, list)):
            raise ConfigError(
                f"--set {dotted}: {'.'.join(parts[: i + 1])} is not a mapping or list"
            )
    last = parts[-1]
    if isinstance(node, list):
        node[_stage_index(node, last)] = value
    else:
        node[last] = value


def resolve(
    path: str | Path, overrides: list[str] | None = None, check_files: bool = True
) -> dict[str, Any]:
    """Load, layer, override and validate; return the fully resolved config (defaults filled)."""
    config = load_layers(Path(path))
    for assignment in overrides or []:
        apply_override(config, assignment)
    check_expanded_size(config, "config (with --set overrides)")
    unknown = sorted(map(str, set(config) - set(SECTIONS) - {"name", "stages"}))
    if unknown:
        raise ConfigError(
            f"unknown top-level key {excerpt(unknown[0])}; allowed: name, "
            f"{', '.join(SECTIONS)}, stages"
        )
    name = config.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError("name: required, a non-empty string without '/' (the dataset name)")
    check_name("name", name)
    resolved: dict[str, Any] = {"name": name}
    for section in SECTIONS:
        resolved[section] = check_section(section, config.get(section) or {})
    stages = config.get("stages")
    if not isinstance(stages, list) or not stages:
        raise ConfigError("stages: required, a non-empty list of {type: <stage>, ...} mappings")
    resolved["stages"] = [check_stage_params(i, s) for i, s in enumerate(stages)]
    check_publish_points(resolved)
    check_output(resolved)
    if check_files:
        inputs = expand_inputs(resolved["input"]["paths"], resolved)
        check_output_location(resolved, inputs)
    return resolved


def check_output(config: dict[str, Any]) -> None:
    """A URL ``output.dir`` needs a POSIX ``work_dir``; on a cluster, one all nodes share."""
    from pipeline.io.location import is_url

    out, ex = config["output"], config["executor"]
    if out["work_dir"] is not None and is_url(out["work_dir"]):
        raise ConfigError(
            f"output.work_dir: must be a local or shared POSIX folder (it holds "
            f"intermediate files that are renamed and memory-mapped), got "
            f"{out['work_dir']!r}"
        )
    if (
        is_url(out["dir"])
        and out["work_dir"] is None
        and ex["type"] == "ray"
        and ex["address"] is not None
    ):
        raise ConfigError(
            "output.work_dir: required when output.dir is a URL and the run uses "
            "an existing Ray cluster: a folder every node mounts (intermediate "
            "shards are written there by the workers)"
        )


def check_publish_points(config: dict[str, Any]) -> None:
    """Generating stages consume records: those must be published (accounted) before."""
    from pipeline.registry import STAGES

    stages, seen = config["stages"], set()
    for i, s in enumerate(stages):
        if i > 0 and STAGES[s["type"]].generates and not stages[i - 1].get("publish"):
            raise ConfigError(
                f"stages[{i}] ({s['type']}) creates new records from the records "
                f"it reads: mark the stage before it with `publish: NAME` so the "
                f"records it consumes are published and accounted for"
            )
        name = s.get("publish") or (config["name"] if i == len(stages) - 1 else None)
        if name in seen:
            raise ConfigError(f"stages[{i}].publish: dataset {name!r} is published twice")
        if name:
            seen.add(name)
