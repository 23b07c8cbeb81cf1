"""What decides a run's output: the hashes that tell "nothing new" from a new version.

``config_hash`` is over the config as published (credentials redacted), for provenance;
``run_identity`` leaves out the settings that change how or where a run works (executor,
output locations, operational stage parameters), so that changing them publishes nothing new.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipeline.redact import redact_config
from pipeline.schema import build_stage


def canonical_json(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the resolved config as published (credentials
    redacted: see ``pipeline.redact``), so a reader can check it against the manifest."""
    return hashlib.sha256(canonical_json(redact_config(config)).encode()).hexdigest()


#: Settings that change how or where a run works, never the bytes it publishes: left out of
#: :func:`run_identity`. ``output.dir`` only locates the store the identity is looked up in
#: (so ``out`` and ``out/`` are one store); stage parameters a stage marks ``operational``
#: (``partitions``, LLM ``cache_dir``, engine URLs and concurrency) are left out through its
#: fingerprint parameters.
OPERATIONAL_KEYS: tuple[str, ...] = ("executor", "output.dir", "output.work_dir")


def run_identity(config: dict[str, Any]) -> str:
    """sha256 of what decides a run's output: the resolved config without
    :data:`OPERATIONAL_KEYS`, each stage reduced to ``name@version`` and the parameters of
    its fingerprint, credentials redacted. Two runs with the same identity and the same
    input bytes publish the same bytes: the second is "nothing new"."""
    ident = {k: v for k, v in config.items() if k != "stages"}
    for dotted in OPERATIONAL_KEYS:
        section, _, key = dotted.partition(".")
        if key and isinstance(ident.get(section), dict):
            ident[section] = {k: v for k, v in ident[section].items() if k != key}
        else:
            ident.pop(section, None)
    stages = []
    for params in config["stages"]:
        stage = build_stage(params)
        stages.append(
            {
                "stage": f"{stage.name}@{stage.version}",
                "publish": params.get("publish"),
                "params": json.loads(
                    json.dumps(stage.non_default_params(), sort_keys=True, default=str)
                ),
            }
        )
    ident["stages"] = stages
    return hashlib.sha256(canonical_json(redact_config(ident)).encode()).hexdigest()
