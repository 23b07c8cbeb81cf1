"""Connect to a Ray cluster, or start a bounded local one, with the project importable.

``address`` in the executor config decides which:

* ``null`` — start a local cluster inside this process tree with ``num_cpus`` CPUs (default:
  this machine's) and an object store of ``object_store_memory`` bytes (default 512 MiB: tasks
  exchange file paths and small dicts, never records, so the store holds almost nothing).
* ``auto``, ``host:port`` or ``ray://host:port`` — join an existing cluster. The packages the
  stages need (``pipeline``, ``filters``, ``synth``, ``data_cards``) are shipped with the job as
  ``runtime_env.py_modules``, so worker nodes need only the third-party dependencies; the
  driver's ``ZHCURATE_*`` (and a few other) environment variables go with them.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: Top-level packages a worker imports to run stages (shipped to remote clusters).
PACKAGES = ("pipeline", "filters", "synth", "data_cards")
#: Driver environment variables passed on to a remote cluster's workers (by prefix): model and
#: cache locations (``ZHCURATE_HOME``, ``ZHCURATE_LLM_CACHE`` ...) and offline switches. Not API
#: keys: a runtime env is visible to anyone who can list the cluster's jobs.
FORWARDED_ENV = ("ZHCURATE_", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
#: Object store of a locally started cluster when the config gives none (bytes).
LOCAL_OBJECT_STORE = 512 * 2**20
#: Ray's own floor for the object store (bytes); smaller values fail at start.
MIN_OBJECT_STORE = 75 * 2**20


def runtime_env(remote: bool) -> dict[str, Any] | None:
    """Shipped packages for a remote cluster; for a local one, PYTHONPATH only if needed.

    A local cluster's workers already see the driver's script directory, working directory
    and environment (Ray propagates them); a custom env would forgo Ray's pre-started workers.
    """
    if remote:
        env = {
            "py_modules": [str(REPO / p) for p in PACKAGES if (REPO / p).is_dir()],
            "excludes": ["__pycache__", "*.pyc"],
        }
        forwarded = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}
        return {**env, "env_vars": forwarded} if forwarded else env
    script_dir = os.path.dirname(os.path.realpath(sys.argv[0])) if sys.argv[0] else ""
    seen = {
        os.path.realpath(p)
        for p in (os.getcwd(), script_dir, *os.environ.get("PYTHONPATH", "").split(os.pathsep))
        if p
    }
    if str(REPO) in seen or "site-packages" in REPO.parts:
        return None
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


def init_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """Arguments of ``ray.init`` for the executor section ``cfg`` (see the module docstring)."""
    address = cfg.get("address")
    common: dict[str, Any] = {"logging_level": logging.WARNING}
    env = runtime_env(bool(address))
    if env:
        common["runtime_env"] = env
    if address:
        ignored = [k for k in ("num_cpus", "object_store_memory") if cfg.get(k) is not None]
        if ignored:
            logging.getLogger("zhcurate").warning(
                "executor.%s applies only to a locally started cluster; ignored when joining "
                "executor.address=%s",
                " and executor.".join(ignored),
                address,
            )
        return {"address": address, **common}
    store = cfg.get("object_store_memory") or LOCAL_OBJECT_STORE
    if store < MIN_OBJECT_STORE:
        raise ValueError(
            f"executor.object_store_memory: {store} bytes is below Ray's minimum "
            f"of {MIN_OBJECT_STORE}"
        )
    return {
        "address": "local",
        "num_cpus": cfg.get("num_cpus") or os.cpu_count() or 1,
        "object_store_memory": store,
        "include_dashboard": False,
        **common,
    }


def cluster_cpus() -> int:
    """CPUs the connected cluster offers (at least 1)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def shutdown_named_actors(namespace: str) -> list[str]:
    """Kill the named actors in ``namespace`` on the connected cluster (the ones stages share,
    e.g. LLM limiters and engines: see :class:`pipeline.stage.Placement`); their names."""
    import ray
    from ray.util import list_named_actors

    killed = []
    for entry in list_named_actors(all_namespaces=True):
        if entry["namespace"] != namespace:
            continue
        try:
            ray.kill(ray.get_actor(entry["name"], namespace=namespace), no_restart=True)
            killed.append(entry["name"])
        except ValueError:  # gone meanwhile
            pass
    return killed
