"""The kernel of a run: this interpreter's ipykernel, the run's environment, a watchdog.

papermill users report kernels that die and runs that hang, or that eat a machine's
memory. Here the kernel is always ``sys.executable -m ipykernel_launcher`` (never a
kernelspec a user installed), started with the environment the run needs
(``SOC_RUN_DIR``, ``SOC_TOKEN``, the worker's settings and ``PYTHONPATH``), and watched
from the worker by a thread that ends it (its whole process tree) past the run's
deadline or over its memory limit, saying which. nbclient notices the dead kernel
within a second and papermill returns; the worker lives on.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil
from jupyter_client.manager import AsyncKernelManager

__all__ = ["WITHHELD", "KernelWatch", "kernel_manager_class"]

logger = logging.getLogger(__name__)

#: The worker's settings a kernel never inherits: user code must not act as the deployment.
WITHHELD = frozenset({"SOC_ADMIN_TOKEN", "SOC_TOKEN"})
#: Seconds between the watchdog's looks at the kernel (memory, deadline, liveness).
POLL = 0.1


@dataclass
class KernelWatch:
    """Watches one run's kernel: its deadline, its memory, how it ended."""

    deadline: float  # time.monotonic() past which the kernel is ended
    memory_bytes: int
    pid: int | None = None
    process: Any = None  # the kernel's Popen, once started
    #: ``timed_out`` or ``out_of_memory`` when the watchdog ended the kernel, else None.
    ended_by: str | None = None
    detail: str = ""
    peak_bytes: int = 0
    ended_at: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def started(self, process: Any) -> None:
        """Begin watching the kernel process ``process`` (a Popen)."""
        self.process = process
        self.pid = process.pid
        self._thread = threading.Thread(target=self._loop, name="kernel-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the kernel has ended, or is being shut down)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def exit_status(self) -> str:
        """How the kernel process ended, in words (for a dead kernel's error)."""
        code = self.process.poll() if self.process is not None else None
        if code is None:
            return "the kernel stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the kernel died ({name})"
        return f"the kernel exited with status {code}"

    def _tree_rss(self, root: psutil.Process) -> int:
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _kill(self, root: psutil.Process, why: str, detail: str) -> None:
        self.ended_by, self.detail, self.ended_at = why, detail, time.monotonic()
        logger.warning("run kernel %s: %s", root.pid, detail)
        for proc in [*root.children(recursive=True), root]:
            try:
                proc.kill()
            except psutil.Error:
                continue

    def _loop(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.wait(POLL):
            if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
                return
            try:
                rss = self._tree_rss(root)
            except psutil.Error:
                return
            self.peak_bytes = max(self.peak_bytes, rss)
            if rss > self.memory_bytes:
                self._kill(
                    root,
                    "out_of_memory",
                    f"out of memory: the kernel used {rss / 2**20:.0f} MB, over the run's"
                    f" limit of {self.memory_bytes / 2**20:.0f} MB (SOC_RUN_MEMORY_MB)",
                )
                return
            if time.monotonic() > self.deadline:
                self._kill(root, "timed_out", "the run went past its timeout")
                return


def kernel_manager_class(env: Mapping[str, str], watch: KernelWatch) -> type[AsyncKernelManager]:
    """A kernel manager class that starts this interpreter's kernel with ``env``, watched."""

    class RunKernelManager(AsyncKernelManager):
        """nbclient makes one per run; everything it needs is bound here."""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            """Start the worker's own ipykernel, whatever kernelspecs are installed."""
            return [
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                self.connection_file,
                *(extra_arguments or []),
            ]

        async def _async_start_kernel(self, **kw: Any) -> None:
            inherited = {k: v for k, v in os.environ.items() if k not in WITHHELD}
            kw["env"] = {**inherited, **env}
            await super()._async_start_kernel(**kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                watch.started(process)

        start_kernel = _async_start_kernel  # type: ignore[assignment]

    return RunKernelManager
