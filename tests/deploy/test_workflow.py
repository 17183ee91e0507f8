"""The image workflow: valid for GitHub (its JSON schema), clean for zizmor, and saying
what the design needs (every target built with its own cache, pushes from main only,
actions pinned by commit, a Compose smoke test with a HAPI request and an ingest)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import WORKFLOW, Result, run


def schema_check(path: Path) -> Result:
    return run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", path, timeout=60)


def zizmor(path: Path) -> Result:
    # --offline: no GitHub API calls (CI has no network); pedantic: every finding counts.
    return run(
        "zizmor",
        "--offline",
        "--persona",
        "pedantic",
        "--no-progress",
        "--format",
        "plain",
        path,
        timeout=60,
    )


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def test_the_workflow_matches_githubs_schema() -> None:
    result = schema_check(WORKFLOW)
    assert result.returncode == 0, result.output


def test_zizmor_finds_nothing() -> None:
    result = zizmor(WORKFLOW)
    assert result.returncode == 0, result.output
    assert "No findings" in result.output, result.output


def test_a_broken_workflow_fails_both_checks(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "name: broken\n"
        "on: pull_request_target\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    found = zizmor(broken)
    assert found.returncode != 0
    for audit in ("unpinned-uses", "template-injection", "dangerous-triggers"):
        assert audit in found.output, found.output
    invalid = tmp_path / "invalid.yml"
    invalid.write_text("name: invalid\non: push\njobs:\n  build:\n    steps: []\n")
    assert schema_check(invalid).returncode != 0  # no runs-on, no steps


def test_every_action_is_pinned_by_commit() -> None:
    uses = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action


def test_every_target_builds_with_its_own_cache(workflow: dict[str, Any]) -> None:
    build = workflow["jobs"]["build"]
    (step,) = [s for s in build["steps"] if s.get("uses", "").startswith("docker/build-push")]
    assert step["with"]["target"] == "${{ matrix.target }}"
    assert "scope=socstack-${{ matrix.target }}" in step["with"]["cache-from"]
    assert "scope=socstack-${{ matrix.target }}" in step["with"]["cache-to"]


def test_images_are_pushed_from_main_only(workflow: dict[str, Any]) -> None:
    main_only = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    build = workflow["jobs"]["build"]
    (step,) = [s for s in build["steps"] if s.get("uses", "").startswith("docker/build-push")]
    assert step["with"]["push"] == "${{ " + main_only + " }}"
    (login,) = [s for s in build["steps"] if s.get("uses", "").startswith("docker/login")]
    assert login["if"] == main_only
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["smoke"]["permissions"] == {"contents": "read"}


def test_the_smoke_test_starts_the_stack_and_uses_it(workflow: dict[str, Any]) -> None:
    script = "\n".join(s.get("run", "") for s in workflow["jobs"]["smoke"]["steps"])
    assert re.search(r"docker compose -f compose/compose.yaml up .*--wait", script)
    assert "http://localhost:8080/hapi/" in script
    assert re.search(r"curl .*-F \"file=@.*http://localhost:8080/api/files", script)
