"""What runs for analysis beside a socstack server: JupyterLab at ``/notebook``, and Dask.

``socstack up`` (embedded mode) and ``socstack serve notebook`` (the analysis container
of a cluster) run the same: with the ``analysis`` extra installed, they get a proxy for
``/notebook`` before they serve, start the Dask cluster and the JupyterLab child once
their port is bound (the child is told the public URL), and stop both when they stop.
A scheduler the settings name (``SOC_DASK_SCHEDULER``: in a cluster, the Dask
operator's) is used as it is; only without one is a loopback ``LocalCluster`` started.

In ``up`` JupyterLab is one part among many: ``SOC_NOTEBOOK`` may turn it off, and
without the extra ``/notebook`` says how to install it. For ``serve notebook``
(``dedicated``) it is the whole service: it always starts, and a missing extra is an
error at once rather than a server that can only apologise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

from socstack._exceptions import ConfigError
from socstack.analysis.answers import NotebookUnavailable
from socstack.analysis.lab import BASE_URL, INSTALL_HINT, Lab, lab_installed, seed_notebooks
from socstack.runtime import Runtime

__all__ = ["EmbeddedAnalysis"]

logger = logging.getLogger(__name__)


class EmbeddedAnalysis:
    """The analysis side of a server: the app at ``/notebook`` and the processes behind it.

    Raises
    ------
    ConfigError
        ``dedicated`` and the ``analysis`` extra (JupyterLab) is not installed.
    """

    def __init__(self, runtime: Runtime, say: Callable[[str], None], *, dedicated: bool = False):
        self.runtime = runtime
        self.say = say
        self.lab: Lab | None = None
        self.cluster: Any = None
        settings = runtime.settings
        if dedicated and not lab_installed():
            raise ConfigError(f"JupyterLab is not installed with this socstack: {INSTALL_HINT}")
        if not (settings.notebook or dedicated):
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

        if settings.dask_scheduler:
            self.say(f"dask: the scheduler at {settings.dask_scheduler}")
        else:
            self.cluster = start_cluster(settings)
        if self.cluster is not None:
            settings.dask_scheduler = self.cluster.scheduler_address
            self.say(f"dask: {settings.dask_workers} workers, scheduler on loopback")
        seeded = seed_notebooks(settings, settings.missions)
        if seeded:
            self.say(f"example notebooks copied into {settings.notebook_library / 'examples'}")
        self.lab.start(public_url)
        self.say(f"notebooks: {public_url}{BASE_URL} (sign in first at {public_url}/viz/signin)")

    def stopped(self) -> str | None:
        """Why JupyterLab is gone (its child has ended), or None while it runs."""
        return None if self.lab is None else self.lab.stopped()

    def stop(self) -> None:
        """Stop JupyterLab (by its pid), then the cluster."""
        if self.lab is not None:
            self.lab.stop()
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=20)
            except Exception:  # stopping: report it, never mask the server's own exit
                logger.warning("the Dask cluster did not close cleanly", exc_info=True)
            self.cluster = None
