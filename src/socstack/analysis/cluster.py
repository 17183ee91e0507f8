"""Dask beside the archive in embedded mode: a ``distributed.LocalCluster`` on loopback.

``socstack up`` (and ``socstack serve notebook``) starts it when the ``analysis`` extra
is installed, ``SOC_DASK_WORKERS`` is above zero and no ``SOC_DASK_SCHEDULER`` is given:
worker processes (not threads: numpy and the CDF
readers hold the GIL in places), listening on 127.0.0.1 only, no dashboard (it would be
another open port; JupyterLab is the place to watch work). Its scheduler's address goes
to the JupyterLab child as ``SOC_DASK_SCHEDULER``, so ``distributed.Client()`` there and
the client's chunked reads use it. In a Kubernetes cluster the scheduler is Dask's own
Kubernetes operator's (``k8s/base/dask``, named in ``SOC_DASK_SCHEDULER``), never one of
ours.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from socstack.config import Settings

if TYPE_CHECKING:
    from distributed import LocalCluster

__all__ = ["dask_installed", "start_cluster"]

logger = logging.getLogger(__name__)


def dask_installed() -> bool:
    """Whether ``distributed`` (the analysis extra) is importable here."""
    return importlib.util.find_spec("distributed") is not None


def start_cluster(settings: Settings) -> LocalCluster | None:
    """A loopback ``LocalCluster`` of ``SOC_DASK_WORKERS`` processes (None: not wanted)."""
    if settings.dask_workers == 0 or not dask_installed():
        return None
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=0,  # scaled up below, without waiting: JupyterLab starts meanwhile
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        # The scheduler serves health routes over HTTP even without its dashboard, on
        # 8787 unless told: a port of its own on loopback, so two `up`s never collide.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        local_directory=str(settings.data_dir / "dask"),
    )
    cluster.scale(settings.dask_workers)
    logger.info(
        "Dask scheduler at %s (%d workers)", cluster.scheduler_address, settings.dask_workers
    )
    return cluster
