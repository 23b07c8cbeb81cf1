"""Config schema: the allowed keys of each section and type checks for stage parameters.

Section defaults live here; stage parameter types and defaults come from the stage
dataclasses themselves (their annotations are the schema).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

from pipeline.errors import ConfigError, excerpt

#: section -> {key: (type, default, help)}; ``None`` default means optional.
SECTIONS: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "input": {
        "paths": (list[str], None, "input files or globs (relative to the working directory)"),
        "format": (
            Literal["auto", "jsonl", "parquet", "txt", "hf", "warc", "wet"],
            "auto",
            "reader; auto picks by extension (.jsonl[.gz|.zst], .parquet, folder)",
        ),
        "text_field": (str, "text", "field holding the document text"),
        "id_field": (str | None, "id", "field holding a stable id; null derives path:line"),
        "encoding": (
            Literal["utf-8", "gb18030", "gbk", "big5", "big5hkscs"],
            "utf-8",
            "text encoding of jsonl and txt inputs (a UTF-8 BOM is skipped); parquet and "
            "hf are UTF-8 by format, WARC/WET pages are detected per record",
        ),
        "max_record_bytes": (int, 8_000_000, "records larger than this are quarantined"),
        "shard_size": (int, 10_000, "records per shard (the unit of parallel work and resume)"),
    },
    "output": {
        "dir": (
            str,
            "out",
            "root, a folder or an fsspec URL (s3://bucket/prefix, ...); "
            "versions go to <dir>/<name>/vNNNN",
        ),
        "work_dir": (
            str | None,
            None,
            "POSIX folder for intermediate shards and markers "
            "(shared by all nodes on a cluster); null: <dir>/<name>/_work, or for a "
            "URL dir a cache folder of this machine",
        ),
        "compression_level": (int, 3, "zstd level of the published parquet files"),
    },
    "executor": {
        "type": (Literal["local", "ray"], "local", "where stages run"),
        "workers": (int | None, None, "processes (local) or parallel tasks; null = CPUs"),
        "max_error_fraction": (
            float,
            0.05,
            "a stage quarantining more than this fraction of its input fails",
        ),
        "address": (str | None, None, "ray: cluster address (auto, ray://...) or null"),
        "num_cpus": (int | None, None, "ray: CPUs of a locally started cluster"),
        "object_store_memory": (int | None, None, "ray: object store bytes (local cluster)"),
    },
    "card": {
        "pretty_name": (str | None, None, "human title of the dataset"),
        "license": (
            str,
            "other",
            "Hugging Face Hub licence id (e.g. apache-2.0, cc-by-sa-4.0) or 'other'",
        ),
        "description": (str, "", "motivation paragraph for the data card"),
        "source_datasets": (list[str], [], "upstream datasets (card front matter)"),
        "task_categories": (list[str], ["text-generation"], "card front matter"),
        "examples_per_reason": (int, 3, "dropped examples shown per reason"),
    },
}


#: Longest file or folder name in bytes (UTF-8) on the usual filesystems (ext4, xfs, btrfs,
#: zfs, APFS, NTFS: 255); a dataset name is a folder name.
NAME_MAX = 255
#: Longest output/input path in bytes: Linux PATH_MAX (4096) less room for what a run puts
#: under it (``<name>/.v0001.tmpPID/quarantine/read-00000.parquet``, work shards).
PATH_MAX = 3800


def _bad_text(value: str) -> str | None:
    """Why ``value`` cannot name a file: a NUL or other control character, else None."""
    bad = next((c for c in value if ord(c) < 0x20 or c == "\x7f"), None)
    if bad is None:
        return None
    return "contains a NUL byte" if bad == "\x00" else f"contains the control character {bad!r}"


def check_name(where: str, name: str) -> None:
    """A dataset name must be one folder name the filesystem can hold."""

    if problem := _bad_text(name):
        raise ConfigError(f"{where}: {excerpt(name)} {problem}")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_MAX:
        raise ConfigError(
            f"{where}: {size} bytes long; a folder name holds at most {NAME_MAX} (UTF-8)"
        )


def check_path(where: str, path: str) -> None:
    """A path (or URL) without a NUL byte whose parts fit the filesystem."""

    if "\x00" in path:
        raise ConfigError(f"{where}: {excerpt(path)} contains a NUL byte")
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > PATH_MAX:
        raise ConfigError(f"{where}: {size} bytes long; at most {PATH_MAX} (UTF-8)")
    for part in path.split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX:
            raise ConfigError(
                f"{where}: the part {excerpt(part)} is longer than {NAME_MAX} bytes, the "
                "longest file or folder name the filesystem holds"
            )


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(tp))
        return f"{origin.__name__}[{args}]"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def matches(value: Any, tp: Any) -> bool:
    """Whether a YAML value fits an annotation (int is accepted where float is expected)."""
    if tp is Any:
        return True
    if hasattr(tp, "from_config"):  # a typed config (e.g. a backend): it validates itself
        return isinstance(value, (dict, tp))  # when the stage is built (see build_stage)
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return (
            isinstance(value, list) and all(matches(v, args[0]) for v in value)
            if args
            else isinstance(value, list)
        )
    if origin is dict:
        k, v = typing.get_args(tp) or (Any, Any)
        return isinstance(value, dict) and all(
            matches(a, k) and matches(b, v) for a, b in value.items()
        )
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def check_section(section: str, given: Any) -> dict[str, Any]:
    """Validate one top-level section and fill its defaults."""

    spec = SECTIONS[section]
    if not isinstance(given, dict):
        raise ConfigError(f"{section}: must be a mapping")
    for key in given:
        if key not in spec:
            raise ConfigError(
                f"{section}.{excerpt(key, quote=False)}: unknown key; allowed: {', '.join(spec)}"
            )
    out: dict[str, Any] = {}
    for key, (tp, default, _help) in spec.items():
        if key not in given:
            if default is None and section == "input" and key == "paths":
                raise ConfigError("input.paths: required, a list of files or globs")
            out[key] = default
            continue
        value = given[key]
        if not matches(value, tp):
            raise ConfigError(f"{section}.{key}: expected {type_name(tp)}, got {excerpt(value)}")
        out[key] = value
    if section == "input":
        for i, pattern in enumerate(out["paths"]):
            check_path(f"input.paths[{i}]", pattern)
    if section == "output":
        check_path("output.dir", out["dir"])
        if out["work_dir"] is not None:
            check_path("output.work_dir", out["work_dir"])
    if section == "input" and out["shard_size"] < 1:
        raise ConfigError("input.shard_size: must be >= 1")
    if section == "executor" and out["workers"] is not None and out["workers"] < 1:
        raise ConfigError("executor.workers: must be >= 1 or null")
    if section == "card":  # the Hub's metadata lists (data_cards/hub_metadata.py)
        from data_cards.hub_metadata import card_problems

        problems = card_problems(out)
        if problems:
            raise ConfigError(problems[0])
    return out


def stage_param_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def check_stage_params(index: int, given: Any) -> dict[str, Any]:
    """Validate ``stages[index]`` against its stage class; return it with defaults filled."""
    from pipeline.registry import STAGES

    where = f"stages[{index}]"
    if not isinstance(given, dict) or "type" not in given:
        raise ConfigError(f"{where}: must be a mapping with a 'type' key")
    stype = given["type"]
    if not isinstance(stype, str) or stype not in STAGES:
        raise ConfigError(
            f"{where}.type: unknown stage {excerpt(stype)}; known: {', '.join(STAGES)}"
        )
    cls = STAGES[stype]
    types_ = stage_param_types(cls)
    out: dict[str, Any] = {"type": stype}
    if "publish" in given:
        name = given["publish"]
        if not isinstance(name, str) or not name or "/" in name or name.startswith((".", "_")):
            raise ConfigError(
                f"{where}.publish: a dataset name (non-empty, no '/', not starting "
                f"with '.' or '_'), got {excerpt(name)}"
            )
        check_name(f"{where}.publish", name)
        out["publish"] = name
    for key, value in given.items():
        if key in ("type", "publish"):
            continue
        if key not in types_:
            raise ConfigError(
                f"{where} ({stype}).{key}: unknown parameter; allowed: "
                f"{', '.join(types_) or '(none)'}"
            )
        if not matches(value, types_[key]):
            raise ConfigError(
                f"{where} ({stype}).{key}: expected {type_name(types_[key])}, got {excerpt(value)}"
            )
    for f in dataclasses.fields(cls):
        if f.name in ("type", "publish"):
            raise ConfigError(f"stage class {cls.__name__} may not have a parameter {f.name!r}")
        if f.name in given:
            out[f.name] = given[f.name]
        elif f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            raise ConfigError(f"{where} ({stype}).{f.name}: required parameter missing")
    try:
        stage = build_stage(out)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where} ({stype}): {exc}") from None
    for name in out:  # typed configs as parsed (defaults filled in), in their YAML form
        value = getattr(stage, name, None)
        if plain(value) is not value:
            out[name] = plain(value)
    return out


def plain(value: Any) -> Any:
    """A parameter value in its YAML form: typed configs (anything with ``as_config()``, e.g.
    a backend) become mappings, also inside a tuple (then a list); other values unchanged."""
    if hasattr(value, "as_config"):
        return value.as_config()
    if isinstance(value, tuple) and any(hasattr(v, "as_config") for v in value):
        return [plain(v) for v in value]
    return value


def build_stage(params: dict[str, Any]) -> Any:
    """Instantiate a stage from its resolved config mapping (lists become tuples if annotated)."""
    from pipeline.registry import STAGES

    cls = STAGES[params["type"]]
    kwargs = {k: v for k, v in params.items() if k not in ("type", "publish")}
    for name, tp in stage_param_types(cls).items():
        if name in kwargs and typing.get_origin(tp) is tuple and isinstance(kwargs[name], list):
            kwargs[name] = tuple(kwargs[name])
    return cls(**kwargs)
