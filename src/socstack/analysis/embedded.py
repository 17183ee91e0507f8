"""What ``socstack up`` runs for analysis: Dask's LocalCluster and JupyterLab at ``/notebook``.

With the ``analysis`` extra installed (and ``SOC_NOTEBOOK`` not turned off), ``up`` gets
a proxy for ``/notebook`` before it serves, starts the cluster and the JupyterLab child
once its port is bound (the child is told the public URL), and stops both when it
stops. Without the extra, ``/notebook`` says how to install it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

from socstack.analysis.answers import NotebookUnavailable
from socstack.analysis.lab import BASE_URL, Lab, lab_installed, seed_notebooks
from socstack.runtime import Runtime

__all__ = ["EmbeddedAnalysis"]

logger = logging.getLogger(__name__)


class EmbeddedAnalysis:
    """The analysis side of ``up``: the app at ``/notebook`` and the processes behind it."""

    def __init__(self, runtime: Runtime, say: Callable[[str], None]):
        self.runtime = runtime
        self.say = say
        self.lab: Lab | None = None
        self.cluster: Any = None
        settings = runtime.settings
        if not settings.notebook:
            self.app: ASGIApp = NotebookUnavailable(
                "JupyterLab is turned off here (SOC_NOTEBOOK=false)."
            )
        elif not lab_installed():
            self.app = NotebookUnavailable.not_installed()
        else:
            from socstack.analysis.proxy import NotebookProxy

            self.lab = Lab(settings)
            self.app = NotebookProxy(runtime.access, self.lab)

    def start(self, public_url: str) -> None:
        """Start the Dask cluster, then JupyterLab (told where clients reach this server)."""
        if self.lab is None:
            return
        settings = self.runtime.settings
        from socstack.analysis.cluster import start_cluster

        self.cluster = start_cluster(settings)
        if self.cluster is not None:
            settings.dask_scheduler = self.cluster.scheduler_address
            self.say(f"dask: {settings.dask_workers} workers, scheduler on loopback")
        seeded = seed_notebooks(settings, settings.missions)
        if seeded:
            self.say(f"example notebooks copied into {settings.notebook_library / 'examples'}")
        self.lab.start(public_url)
        self.say(f"notebooks: {public_url}{BASE_URL} (sign in first at {public_url}/viz/signin)")

    def stop(self) -> None:
        """Stop JupyterLab (by its pid), then the cluster."""
        if self.lab is not None:
            self.lab.stop()
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=20)
            except Exception:  # stopping: report it, never mask up's own exit
                logger.warning("the Dask cluster did not close cleanly", exc_info=True)
            self.cluster = None
