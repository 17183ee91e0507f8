"""The Dockerfile, linted by hadolint and read for what the design needs of each image.

There is no container engine here, so nothing is built; what can be known without
building is checked: the lint, a target per service, a non-root numeric user, a
healthcheck and a command per image, no secret in the build, and the same targets in
the Dockerfile, the CI matrix, Compose and Kubernetes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.tools import COMPOSE_DIR, DOCKERFILE, K8S_DIR, REPO, WORKFLOW, run

TARGETS = {"hapi", "api", "worker", "mining", "viz", "analysis", "migrate"}


@dataclass
class Stage:
    """One ``FROM ... AS name`` stage and its instructions (continuations joined)."""

    name: str
    parent: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages(text: str) -> dict[str, Stage]:
    joined = re.sub(r"\\\n", " ", text)
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+) AS (\S+)", args.strip(), flags=re.IGNORECASE)
            assert match, line
            current = found[match[2]] = Stage(match[2], match[1])
        elif current is not None:
            current.instructions.append((keyword, args.strip()))
    return found


def lineage(all_stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and its ancestors within the file, nearest first."""
    chain = []
    while name in all_stages:
        chain.append(all_stages[name])
        name = all_stages[name].parent
    return chain


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, Stage]:
    return stages(DOCKERFILE.read_text())


def hadolint(path: Path) -> tuple[int, str]:
    result = run("hadolint", "--no-color", "--failure-threshold", "style", path, timeout=60)
    return result.returncode, result.output


def test_hadolint_finds_nothing() -> None:
    code, output = hadolint(DOCKERFILE)
    assert (code, output) == (0, "")


def test_hadolint_fails_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "RUN pip install requests\n"
        "CMD python -m http.server\n"
    )
    code, output = hadolint(broken)
    assert code != 0
    for rule in ("DL3007", "DL3008", "DL3013", "DL3025"):
        assert rule in output, output


def test_every_service_has_a_final_target(dockerfile: dict[str, Stage]) -> None:
    finals = {name for name, stage in dockerfile.items() if stage.parent == "runtime"}
    assert finals == TARGETS
    for target in TARGETS:
        assert (REPO / "services" / target / "README.md").is_file(), target


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_image_runs_as_a_numeric_non_root_user(
    dockerfile: dict[str, Stage], target: str
) -> None:
    users = [u for stage in lineage(dockerfile, target) for u in stage.all("USER")]
    assert users, target
    user = users[0]  # the nearest USER is the one in force
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), user


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_image_has_a_healthcheck_and_a_command(
    dockerfile: dict[str, Stage], target: str
) -> None:
    stage = dockerfile[target]
    (healthcheck,) = stage.all("HEALTHCHECK")
    if target == "migrate":
        assert healthcheck == "NONE"  # a one-shot job: it exits 0 or fails
    else:
        assert re.search(r'CMD \["socstack", "health", "--(url|broker)"', healthcheck)
    (command,) = stage.all("CMD")
    assert command.startswith("["), command  # exec form: signals reach the process


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_final_images_carry_only_their_environment(
    dockerfile: dict[str, Stage], target: str
) -> None:
    for kind, args in dockerfile[target].instructions:
        assert kind not in {"RUN", "ADD"}, (target, kind, args)
        if kind == "COPY":
            assert re.match(r"--from=venv-\S+ /opt/venv /opt/venv$|services/", args), args


def test_no_secret_goes_into_an_image(dockerfile: dict[str, Stage]) -> None:
    for stage in dockerfile.values():
        for kind, args in stage.instructions:
            if kind in {"ENV", "ARG"}:
                assert not re.search(r"PASSWORD|SECRET|TOKEN|_KEY", args, re.IGNORECASE), args
    # The build context is an allow-list: compose/.env and other local files never enter.
    patterns = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    assert not [p for p in patterns if p.startswith("!") and "compose" in p]


def test_the_targets_agree_everywhere() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow["jobs"]["build"]["strategy"]["matrix"]["target"]) == TARGETS
    compose = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    built = {s["build"]["target"] for s in compose["services"].values() if "build" in s}
    assert built == TARGETS
    manifests = [p.read_text() for p in K8S_DIR.rglob("*.yaml") if "schemas" not in p.parts]
    images = set(re.findall(r"socstack/socstack-([a-z]+)", "".join(manifests)))
    assert images == TARGETS


def test_the_analysis_image_serves_jupyterlab_behind_socstacks_sign_in(
    dockerfile: dict[str, Stage],
) -> None:
    """Its command is the sign-in proxy, as Compose's and Kubernetes'; no shared token."""
    from socstack.cli.serve import NOTEBOOK_PORT

    analysis = dockerfile["analysis"]
    assert analysis.all("CMD") == ['["socstack", "serve", "notebook"]']
    assert analysis.all("EXPOSE") == [str(NOTEBOOK_PORT)]
    (healthcheck,) = analysis.all("HEALTHCHECK")
    assert f"http://127.0.0.1:{NOTEBOOK_PORT}/notebook/api" in healthcheck
    # JupyterLab's whole configuration is socstack's (analysis/lab.py), as in `up`: the
    # image adds none of its own that could open it to the network.
    assert [c for c in analysis.all("COPY") if "jupyter" in c.lower()] == []
    for path in [DOCKERFILE, WORKFLOW, *(REPO / "services" / "analysis").iterdir()]:
        assert "JUPYTER_TOKEN" not in path.read_text(), path


def extras(stage: Stage) -> set[str]:
    """The extras of socstack that a venv-* stage installs."""
    (install,) = [r for r in stage.all("RUN") if "socstack-*.whl" in r]
    match = re.search(r"\.whl\)\[([a-z0-9,]+)\]", install)
    assert match, install
    return set(match[1].split(","))


def test_the_mining_image_is_the_worker_plus_the_mining_extra(
    dockerfile: dict[str, Stage],
) -> None:
    """Its own environment (the worker's extras and ``mining``), on the mining queue only."""
    import tomllib

    optional = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("stumpy") for d in optional["mining"])
    assert extras(dockerfile["venv-mining"]) == extras(dockerfile["venv-worker"]) | {"mining"}
    assert "mining" not in extras(dockerfile["venv-worker"])
    mining = dockerfile["mining"]
    assert mining.all("COPY") == ["--from=venv-mining /opt/venv /opt/venv"]
    assert mining.all("CMD") == ['["socstack", "worker", "--queues", "mining"]']
    assert "mining" not in dockerfile["worker"].all("CMD")[0]
    # numba caches what it compiles; the root filesystem is read-only, /tmp is scratch.
    assert numba_cache_dir(dockerfile).startswith("/tmp/")


def numba_cache_dir(dockerfile: dict[str, Stage]) -> str:
    """NUMBA_CACHE_DIR as the mining image sets it."""
    settings = [
        e for stage in lineage(dockerfile, "mining") for e in stage.all("ENV") if "NUMBA" in e
    ]
    (setting,) = settings
    match = re.fullmatch(r"NUMBA_CACHE_DIR=(\S+)", setting)
    assert match, setting
    return match[1]


# -- air-gapped builds (scripts/setup-docker) ------------------------------------------------

PIP_STAGES = {"wheel", "venv-web", "venv-worker", "venv-mining", "venv-viz", "venv-analysis"}


def test_the_same_targets_build_air_gapped(dockerfile: dict[str, Stage]) -> None:
    """A base image and a wheelhouse by build argument; nothing fetched unless given."""
    text = DOCKERFILE.read_text()
    # A "# syntax=" line would make BuildKit pull that frontend image from a registry.
    assert not re.match(r"#\s*syntax=", text)
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    (default,) = re.findall(r"^ARG WHEELHOUSE=(\S+)$", text, flags=re.MULTILINE)
    assert (REPO / default).is_file()  # the placeholder copied when none is given
    for name in PIP_STAGES:
        args = dockerfile[name].all("ARG")
        # Declared without a value: unset (pip uses its index) unless --build-arg gives one.
        assert {"PIP_FIND_LINKS", "PIP_NO_INDEX"} <= set(args), name
    copies = {
        name
        for name, stage in dockerfile.items()
        if "${WHEELHOUSE} /wheelhouse/" in stage.all("COPY")
    }
    assert copies == {"wheel", "venv"}  # build stages only: no final image carries it
    for name in TARGETS:
        assert all("wheelhouse" not in c for c in dockerfile[name].all("COPY")), name


def test_the_wheelhouse_enters_the_build_context_and_stays_out_of_git() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "!wheelhouse/" in ignored
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert "wheelhouse/*" in gitignore
    assert "!wheelhouse/README.md" in gitignore


def test_setup_docker_parses_and_keeps_to_its_own_engine() -> None:
    script = REPO / "scripts" / "setup-docker"
    result = run("bash", "-n", script, timeout=30)
    assert result.returncode == 0, result.output
    text = script.read_text()
    for flag in ("--data-root", "--exec-root", "--pidfile", "--containerd", "--config-file"):
        assert flag in text, flag
    assert "--bridge=none --iptables=false --ip6tables=false" in text
    assert "pkill" not in text
    assert "killall" not in text


# What the analysis, viz, mining and demo extras bring, which the web images (api, hapi,
# migrate) lack; the worker image has the demo extra (matplotlib) besides.
NOT_IN_THE_WEB_IMAGES = (
    "dask", "distributed", "psutil", "jupyter_client", "jupyter_server", "jupyterlab",
    "ipykernel", "papermill", "nbclient", "nbconvert", "nbformat", "dash", "plotly", "flask",
    "a2wsgi", "ruptures", "stumpy", "numba", "matplotlib",
)  # fmt: skip
# A module set to None in sys.modules is absent: importing it raises ModuleNotFoundError,
# importlib.util.find_spec (how xarray probes for Dask) answers None.
BLOCKER = """
import importlib, sys
for name in ABSENT:
    sys.modules[name] = None
for module in MODULES:
    importlib.import_module(module)
"""


@pytest.mark.parametrize(
    ("venv", "modules"),
    [
        ("venv-web", ["socstack.cli", "socstack.api.app", "socstack.hapi.app"]),
        ("venv-worker", ["socstack.cli", "socstack.pipeline.celery_app"]),
    ],
)
def test_what_an_image_runs_imports_with_its_extras_only(
    dockerfile: dict[str, Stage], venv: str, modules: list[str]
) -> None:
    """The web and worker images run without the analysis and viz extras they lack."""
    import sys

    installed = extras(dockerfile[venv])
    assert not installed & {"analysis", "viz", "mining", "all"}, installed
    absent = [m for m in NOT_IN_THE_WEB_IMAGES if not (m == "matplotlib" and "demo" in installed)]
    code = f"ABSENT = {absent!r}\nMODULES = {modules!r}\n{BLOCKER}"
    result = run(sys.executable, "-c", code, timeout=120)
    assert result.returncode == 0, result.output
