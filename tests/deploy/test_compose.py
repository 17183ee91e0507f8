"""The Compose files, checked by the real Compose binary (``docker compose config``).

``config`` resolves every file, override, profile, anchor and ``${VAR:?}`` the way
``docker compose up`` does, and needs no engine. Beyond "it parses", the stack must say
what the design needs: healthchecks everywhere, migrations first, optional services
behind profiles, hardened socstack containers, one ingress for every path.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import COMPOSE_DIR, REPO, Result, run

BASE = COMPOSE_DIR / "compose.yaml"
OVERRIDES = {
    "base": [BASE],
    "dev": [BASE, COMPOSE_DIR / "compose.dev.yaml"],
    "prod": [BASE, COMPOSE_DIR / "compose.prod.yaml"],
}
PROFILES = ["", "s3", "analysis", "flower", "*"]
OPTIONAL = {"minio": "s3", "minio-init": "s3", "analysis": "analysis", "flower": "flower"}
ONE_SHOT = {"migrate", "minio-init"}
SOCSTACK = {"migrate", "api", "hapi", "viz", "planner", "worker", "mining", "watcher", "analysis"}


def env_file(folder: Path, *, optional: bool = False, drop: tuple[str, ...] = ()) -> Path:
    """compose/.env.example as an operator fills it in: placeholders replaced, and with
    ``optional`` the commented settings enabled too."""
    lines = []
    for raw in (COMPOSE_DIR / ".env.example").read_text().splitlines():
        line = raw[2:] if optional and re.match(r"^# [A-Z_]+=", raw) else raw
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if key in drop:
            continue
        lines.append(f"{key}={value.replace('change-me', 'placeholder0')}")
    path = folder / "test.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose(files: list[Path], *args: str, env: Path | None, profile: str = "") -> Result:
    """``docker-compose -f ... [--env-file] [--profile] ARGS`` in a clean environment."""
    command: list[str | Path] = []
    for file in files:
        command += ["-f", file]
    if env is not None:
        command += ["--env-file", env]
    if profile:
        command += ["--profile", profile]
    return run("docker-compose", *command, *args, env={}, timeout=60)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p or "default")
@pytest.mark.parametrize("override", sorted(OVERRIDES))
def test_every_override_and_profile_is_valid(override: str, profile: str, tmp_path: Path) -> None:
    """With the example's required lines filled in, and nothing else, every combination works."""
    result = compose(OVERRIDES[override], "config", "-q", env=env_file(tmp_path), profile=profile)
    assert result.returncode == 0, result.output
    assert result.output == "", result.output  # no warning either


@pytest.mark.parametrize("override", sorted(OVERRIDES))
def test_every_optional_setting_is_valid(override: str, tmp_path: Path) -> None:
    env = env_file(tmp_path, optional=True)
    result = compose(OVERRIDES[override], "config", "-q", env=env, profile="*")
    assert result.returncode == 0, result.output
    assert result.output == "", result.output


@pytest.mark.parametrize(
    ("missing", "profile"),
    [
        ("POSTGRES_PASSWORD", ""),
        ("REDIS_PASSWORD", ""),
        ("MINIO_ROOT_PASSWORD", "s3"),
        ("FLOWER_BASIC_AUTH", "flower"),
    ],
)
def test_a_missing_required_variable_is_named(missing: str, profile: str, tmp_path: Path) -> None:
    env = env_file(tmp_path, drop=(missing,))
    result = compose([BASE], "config", "-q", env=env, profile=profile)
    assert result.returncode != 0
    assert missing in result.output
    assert "compose/.env" in result.output  # the message says where to set it


def test_the_example_lists_every_variable_the_files_require() -> None:
    required = set()
    for file in COMPOSE_DIR.glob("compose*.yaml"):
        required |= set(re.findall(r"\$\{([A-Z0-9_]+):\?", file.read_text()))
    example = (COMPOSE_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert required <= listed, required - listed
    # Placeholders only: nothing that looks like a real password is committed.
    values = re.findall(r"(?:PASSWORD|TOKEN|SECRET[A-Z_]*|AUTH)=(.*)$", example, re.MULTILINE)
    assert values and all("change-me" in v for v in values), values


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole stack, every profile, as Compose resolves it."""
    env = env_file(tmp_path_factory.mktemp("compose"), optional=True)
    result = compose([BASE], "config", "--format", "json", env=env, profile="*")
    assert result.returncode == 0, result.output
    return json.loads(result.stdout)


def test_every_long_running_service_has_a_healthcheck(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), name


def test_services_wait_for_health_and_migrations(stack: dict[str, Any]) -> None:
    services = stack["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule["condition"] == wanted, (name, dependency, rule)
    for name in SOCSTACK - {"migrate"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        ), name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    # `up --wait` counts a one-shot's exit as success only if a running service waits for
    # its completion.
    for one_shot in ONE_SHOT:
        assert any(
            one_shot in s.get("depends_on", {}) for n, s in services.items() if n not in ONE_SHOT
        ), one_shot


def test_optional_services_sit_behind_profiles(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        assert service.get("profiles", []) == ([OPTIONAL[name]] if name in OPTIONAL else []), name


def test_socstack_containers_are_hardened(stack: dict[str, Any]) -> None:
    for name in SOCSTACK:
        service = stack["services"][name]
        assert service["user"] == "10001:10001", name
        assert service["init"] is True, name  # signals reach socstack; children are reaped
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["environment"]["SOC_DATABASE_URL"].startswith("postgresql://"), name


def _seconds(duration: str) -> float:
    """A Go duration as Compose prints it ("10m0s", "30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)([hms])", duration))


def longest_job(demo_missions: Any, queues: list[str]) -> float:
    """The longest timeout of the demo's rules on these queues, or a rule's default."""
    from socstack.mission.rules import Rule

    default: float = Rule.model_fields["timeout"].default
    on = [r.timeout for m in demo_missions for r in m.rules.values() if r.queue in queues]
    return max(on, default=default)


def worker_queues(service: dict[str, Any]) -> list[str] | None:
    """The queues a Compose service's ``socstack worker --queues`` takes (None: no worker)."""
    command = service.get("command") or []
    if command[:2] != ["socstack", "worker"]:
        return None
    return command[command.index("--queues") + 1].split(",")


@pytest.mark.parametrize("name", ["worker", "mining"])
def test_a_stopping_worker_may_finish_its_longest_job(
    stack: dict[str, Any], demo_missions: Any, name: str
) -> None:
    service = stack["services"][name]
    longest = longest_job(demo_missions, worker_queues(service) or [])
    # Celery's warm shutdown waits for running jobs, whose hard limit is timeout + 30 s.
    assert _seconds(service["stop_grace_period"]) >= longest + 30 + 60


def test_every_default_queue_has_a_worker_and_mining_its_own(stack: dict[str, Any]) -> None:
    """A rule loads when its queue is in SOC_QUEUES (by default DEFAULT_QUEUES): each of
    those has a worker here, and the mining queue is the mining image's alone."""
    from socstack.config import DEFAULT_QUEUES

    services = stack["services"]
    taken = {n: q for n, s in services.items() if (q := worker_queues(s)) is not None}
    assert set(DEFAULT_QUEUES) <= {q for qs in taken.values() for q in qs}
    assert not [n for n, s in services.items() if "SOC_QUEUES" in s.get("environment", {})]
    assert [n for n, qs in taken.items() if "mining" in qs] == ["mining"]
    assert taken["mining"] == ["mining"]
    mining = services["mining"]
    assert mining["build"]["target"] == "mining"
    assert mining["image"].rsplit(":", 1)[0].endswith("-mining")
    assert mining["healthcheck"]["test"] == ["CMD", "socstack", "health", "--broker"]
    assert mining["volumes"] == services["worker"]["volumes"]  # beside the archive


def test_numbas_cache_is_on_a_writable_tmpfs(stack: dict[str, Any]) -> None:
    """The mining image's NUMBA_CACHE_DIR is on the container's tmpfs (root is read-only)."""
    from tests.deploy.test_dockerfile import numba_cache_dir, stages
    from tests.deploy.tools import DOCKERFILE

    cache = Path(numba_cache_dir(stages(DOCKERFILE.read_text())))
    mining = stack["services"]["mining"]
    assert mining["read_only"] is True
    cache = Path(mining["environment"].get("NUMBA_CACHE_DIR", cache))
    assert any(cache.is_relative_to(mount) for mount in mining["tmpfs"]), mining["tmpfs"]


def test_jupyterlab_takes_socstacks_sign_in_not_a_shared_token(stack: dict[str, Any]) -> None:
    """The analysis profile runs the sign-in proxy, and asks for no JupyterLab secret."""
    analysis = stack["services"]["analysis"]
    assert analysis["command"] == ["socstack", "serve", "notebook"]
    assert analysis["healthcheck"]["test"] == [
        "CMD",
        "socstack",
        "health",
        "--url",
        "http://127.0.0.1:8888/notebook/api",
    ]
    assert not [k for k in analysis["environment"] if "JUPYTER" in k], analysis["environment"]
    for file in [*COMPOSE_DIR.glob("compose*.yaml"), COMPOSE_DIR / ".env.example"]:
        assert "JUPYTER" not in file.read_text(), f"{file.name} names a JupyterLab setting"


def test_one_ingress_serves_every_path(stack: dict[str, Any]) -> None:
    ingress = stack["services"]["ingress"]
    assert [p["target"] for p in ingress["ports"]] == [8080]
    config = (REPO / "services" / "ingress" / "nginx.conf").read_text()
    for path, upstream in [
        ("/hapi", "$hapi"),
        ("/api", "$api"),
        ("= /metrics", "$api"),
        ("/viz", "$viz"),
        ("/notebook", "$analysis"),
    ]:
        assert re.search(
            rf"location {re.escape(path)} {{\s*proxy_pass {re.escape(upstream)};", config
        )


def test_a_broken_compose_file_fails(tmp_path: Path) -> None:
    # Our own file with one unknown dependency condition: Compose must refuse it.
    (tmp_path / "compose").mkdir()
    shutil.copytree(REPO / "services", tmp_path / "services")
    broken = tmp_path / "compose" / "compose.yaml"
    text = BASE.read_text()
    assert "condition: service_completed_successfully" in text
    broken.write_text(
        text.replace("condition: service_completed_successfully", "condition: service_done", 1)
    )
    assert compose([BASE], "config", "-q", env=env_file(tmp_path)).returncode == 0
    result = compose([broken], "config", "-q", env=env_file(tmp_path))
    assert result.returncode != 0
    assert "service_done" in result.output or "condition" in result.output, result.output

    dangling = tmp_path / "dangling.yaml"
    dangling.write_text(
        "services:\n  api:\n    image: x\n    depends_on:\n"
        "      nowhere:\n        condition: service_healthy\n"
    )
    result = compose([dangling], "config", "-q", env=None)
    assert result.returncode != 0
    assert "nowhere" in result.output
