"""The plan of a run: stage keys, fingerprints and work directories, derived from the config.

A stage's fingerprint is ``hash(upstream fingerprint, name@version, non-default params)``;
the root is the reader options. A global stage also folds in the list of shards it sees
(it depends on all of them), so map stages before the first global stage are reused per
shard when input files are added, and everything from a global stage on is recomputed.
Operational parameters (a stage's ``operational`` set: a global stage's ``partitions``, an
LLM stage's ``cache_dir`` and engine URLs) are left out; a global stage's work folder still
names its partition count (``<key>-<fingerprint>-p<partitions>``), because its scan files
are split by it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.ingest import INGEST_VERSION
from pipeline.schema import build_stage
from pipeline.stage import GlobalStage, Placement, Stage
from pipeline.worker import StageStep


@dataclass(frozen=True)
class PlannedStage:
    stage: Stage
    step: StageStep
    is_global: bool

    @property
    def key(self) -> str:
        return self.step.key


def stage_keys(stages: list[dict[str, Any]]) -> list[str]:
    """Column/report key per stage: its type, with ``#2``, ``#3`` for repeated types."""
    seen: dict[str, int] = {}
    keys = []
    for s in stages:
        seen[s["type"]] = seen.get(s["type"], 0) + 1
        keys.append(s["type"] if seen[s["type"]] == 1 else f"{s['type']}#{seen[s['type']]}")
    return keys


def root_fingerprint(input_cfg: dict[str, Any]) -> str:
    opts = {
        k: input_cfg[k]
        for k in ("format", "text_field", "id_field", "max_record_bytes", "shard_size")
    }
    return hashlib.sha256(json.dumps([INGEST_VERSION, opts], sort_keys=True).encode()).hexdigest()[
        :16
    ]


@dataclass(frozen=True)
class PublishPoint:
    """A dataset published from the records after stage ``index``.

    ``start``: index of the generating stage whose records this dataset counts (None: the
    input records). Its accounting covers stages ``start .. index`` (or ingest .. index).
    """

    dataset: str
    index: int
    start: int | None


def publish_points(config: dict[str, Any]) -> list[PublishPoint]:
    """Stages marked ``publish: NAME``; the last stage publishes as ``name`` if unmarked."""
    from pipeline.registry import STAGES

    points, start = [], None
    stages = config["stages"]
    for i, params in enumerate(stages):
        if STAGES[params["type"]].generates:
            start = i
        dataset = params.get("publish") or (config["name"] if i == len(stages) - 1 else None)
        if dataset:
            points.append(PublishPoint(dataset, i, start))
    return points


def dataset_names(config: dict[str, Any]) -> list[str]:
    """Every dataset folder a run writes: ``name`` (it also holds the run's ``_work``) and
    each publish point's dataset."""
    return list(dict.fromkeys([config["name"], *(p.dataset for p in publish_points(config))]))


def plan_stages(config: dict[str, Any], work: Path, shard_ids: list[str]) -> list[PlannedStage]:
    upstream = root_fingerprint(config["input"])
    shards_hash = hashlib.sha256("\n".join(shard_ids).encode()).hexdigest()[:16]
    planned = []
    summarized = {p.index for p in publish_points(config)}
    placement = Placement(config.get("executor", {}).get("type", "local"))
    for i, (params, key) in enumerate(zip(config["stages"], stage_keys(config["stages"]))):
        stage = build_stage(params)
        is_global = isinstance(stage, GlobalStage)
        fp = stage.fingerprint(f"{upstream}+{shards_hash}" if is_global else upstream)
        folder = f"{key.replace('#', '_')}-{fp}"
        if is_global:  # scan files are split by partition: one folder per partition count
            folder = f"{folder}-p{stage.partitions}"  # type: ignore[attr-defined]
        out = work / ("global" if is_global else "stages") / folder
        state = str(out / "state.arrow") if is_global else None
        step = StageStep(
            params, key, fp, str(out), state, summarize=i in summarized, placement=placement
        )
        planned.append(PlannedStage(stage, step, is_global))
        upstream = fp
    return planned
