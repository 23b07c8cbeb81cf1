"""Pick a dataset's store from the output config: a local or shared folder, or an object store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.io.location import is_url
from pipeline.remote_store import RemoteDatasetStore, default_work_dir
from pipeline.store import DatasetStore


def open_store(output: dict[str, Any], name: str) -> DatasetStore | RemoteDatasetStore:
    """The store of dataset ``name`` under ``output.dir``: a local or shared folder, or an
    fsspec URL (see ``pipeline.remote_store``); intermediates under ``output.work_dir``."""
    work_dir = output.get("work_dir")
    if is_url(output["dir"]):
        url = f"{output['dir'].rstrip('/')}/{name}"
        return RemoteDatasetStore(url, Path(work_dir or default_work_dir(url)) / name)
    root = Path(output["dir"]) / name
    return DatasetStore(root, Path(work_dir) / name / "_work" if work_dir else None)
