"""JupyterLab as a child process: a private loopback server behind ``/notebook``.

Its parent is ``socstack up`` (embedded mode) or ``socstack serve notebook`` (the
analysis container of a cluster): the same child, behind the same sign-in, in both.
The child listens on 127.0.0.1 at a port of its own, with a token made at start that
only this process knows (given in the child's environment, never on its command line,
never printed): the reverse proxy (:mod:`socstack.analysis.proxy`) is the one client
it trusts. It gets the same ``SOC_*`` settings as its parent, so ``socstack.client.Client()``
in a notebook reads the archive directly, and the Dask scheduler's address
(``SOC_DASK_SCHEDULER``). Its kernels run with the signed-in user's token
(``SOC_TOKEN``, :mod:`socstack.analysis.kernels`). It is stopped by its pid.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from socstack.config import Settings

__all__ = [
    "BASE_URL",
    "INSTALL_HINT",
    "Lab",
    "credential_path",
    "lab_installed",
    "seed_notebooks",
]

logger = logging.getLogger(__name__)

#: Where JupyterLab is served, the same in embedded mode and behind the ingress.
BASE_URL = "/notebook/"
INSTALL_HINT = "pip install 'socstack[analysis]'"
#: The folder of each mission that holds notebooks to start from (copied, never overwritten).
EXAMPLES = Path("notebooks") / "examples"
#: The settings the child gets as they are, so it reads the same archive.
_SHARED = (
    "data_dir",
    "database_url",
    "archive_url",
    "quarantine_url",
    "broker_url",
    "s3_endpoint_url",
    "queue_prefix",
    "log_level",
)
#: Inherited variables a kernel must not see: other people's secrets.
_WITHHELD = ("SOC_ADMIN_TOKEN", "SOC_TOKEN", "JUPYTER_TOKEN")


#: The child's own configuration (its JUPYTER_CONFIG_DIR holds nothing else). A rebuild
#: of JupyterLab is not this server's user's to make: no "build recommended" dialog.
_CONFIG = {
    "ServerApp": {
        "tornado_settings": {"page_config_data": {"buildCheck": False, "buildAvailable": False}}
    }
}


def lab_installed() -> bool:
    """Whether the ``analysis`` extra's JupyterLab is importable here."""
    return all(importlib.util.find_spec(m) is not None for m in ("jupyterlab", "ipykernel"))


def lab_dir(settings: Settings) -> Path:
    """The child's private folder (configuration, runtime files, its log)."""
    return settings.data_dir / "lab"


def credential_path(settings: Settings) -> Path:
    """Where the proxy leaves the credential of the user starting a kernel (mode 0600).

    It is there only while a kernel-starting request is served; the kernel manager
    reads it into the new kernel's ``SOC_TOKEN``.
    """
    return lab_dir(settings) / "credential"


def seed_notebooks(settings: Settings, sources: Iterable[Path]) -> list[Path]:
    """Copy each mission's example notebooks into the notebook root, keeping any edits.

    A notebook already there (perhaps edited by its user) is left alone; only missing
    ones are copied, so a new example reaches an old data folder.
    """
    target = settings.notebook_library / "examples"
    written: list[Path] = []
    for folder in sources:
        examples = folder / EXAMPLES
        if not examples.is_dir():
            continue
        for source in sorted(examples.glob("*.ipynb")):
            destination = target / source.name
            if destination.exists():
                continue
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            written.append(destination)
    return written


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(settings: Settings, *, public_url: str, token: str) -> dict[str, str]:
    """The child's environment: this process's, the shared settings, no one's secrets."""
    env = {k: v for k, v in os.environ.items() if k not in _WITHHELD}
    for name in _SHARED:
        value = getattr(settings, name)
        if value not in ("", None):
            env[f"SOC_{name.upper()}"] = str(value)
    env["SOC_MISSIONS"] = os.pathsep.join(str(p) for p in settings.missions)
    env["SOC_PUBLIC_URL"] = public_url
    if settings.dask_scheduler:
        env["SOC_DASK_SCHEDULER"] = settings.dask_scheduler
        # Dask's own configuration: `distributed.Client()` with no address connects here.
        env["DASK_SCHEDULER_ADDRESS"] = settings.dask_scheduler
    private = lab_dir(settings)
    env["JUPYTER_CONFIG_DIR"] = str(private / "config")  # no one's ~/.jupyter settings
    env["JUPYTER_RUNTIME_DIR"] = str(private / "runtime")
    env["JUPYTER_TOKEN"] = token
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Lab:
    """The JupyterLab child: start it, know whether it lives, stop it by its pid."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.port = 0
        #: The token the proxy sends; made here, kept in memory, never logged.
        self.token = secrets.token_urlsafe(32)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def upstream(self) -> str:
        """The child's base URL (loopback only)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the child's own log goes (its output, not the terminal's)."""
        return lab_dir(self.settings) / "jupyter.log"

    def start(self, public_url: str) -> None:
        """Start the child (it becomes ready a few seconds later; the proxy says so)."""
        settings = self.settings
        private = lab_dir(settings)
        for folder in (private, private / "config", private / "runtime"):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)  # the runtime files name the token
        settings.notebook_library.mkdir(parents=True, exist_ok=True)
        credential_path(settings).unlink(missing_ok=True)
        (private / "config" / "jupyter_server_config.json").write_text(json.dumps(_CONFIG))
        self.port = _free_port()
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={BASE_URL}",
            f"--ServerApp.root_dir={settings.notebook_library}",
            "--ServerApp.allow_remote_access=False",
            "--ServerApp.kernel_manager_class=socstack.analysis.kernels.SignedInKernelManager",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:  # a container's root: JupyterLab refuses it unless told
            command.append("--ServerApp.allow_root=True")
        env = child_environment(settings, public_url=public_url, token=self.token)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=settings.notebook_library,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its kernels are stopped with it
            )
        logger.info("JupyterLab started (pid %d, log %s)", self.process.pid, self.log_path)

    def exit_status(self) -> int | None:
        """None while the child runs (or is yet to start); its exit status once ended."""
        if self.process is None:
            return None
        return self.process.poll()

    def stopped(self) -> str | None:
        """Why JupyterLab is gone, in one line, once the child has ended; else None.

        The proxy tells a signed-in user this, and ``socstack serve notebook`` ends with
        it (so that its container is restarted, not left serving a dead child).
        """
        status = self.exit_status()
        if status is None:
            return None
        return f"JupyterLab has stopped (exit status {status}); its log is {self.log_path}"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (JupyterLab shuts its kernels down), then SIGKILL its process group."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the pid is the group
                process.wait()
        # Also after a child that ended by itself: no credential outlives its server.
        credential_path(self.settings).unlink(missing_ok=True)
