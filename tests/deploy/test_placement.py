"""Each service placed on the cloud's nodes on its own, and what that placement requires.

A placement is the on-premises stack plus one component of ``k8s/components/cloud``.
Each is rendered and validated strictly, as the overlays are, and then checked for what
moving a service needs: cloud nodes only (with their taint tolerated), no on-premises
shared filesystem, the archive on S3, the data stores still accepting its pods, a
volume it keeps from the cloud zone's storage, and everything else (the Ingress paths,
the other workloads) exactly as on-premises.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.kube import overlay_path, render, validate_builtin
from tests.deploy.tools import K8S_DIR

CLOUD = K8S_DIR / "components" / "cloud"
PLACEMENTS = sorted(p.name for p in CLOUD.iterdir() if (p / "kustomization.yaml").is_file())
#: The PersistentVolumeClaim of the on-premises shared filesystem (the drop box).
SHARED = "socstack-shared"
#: The storage class a placed service's own volumes must come from.
CLOUD_STORAGE = "socstack-cloud"


def placement(folder: Path, *components: Path) -> Path:
    """An overlay of the on-premises stack with ``components`` added, as an operator's."""
    folder.mkdir(parents=True, exist_ok=True)
    onprem = os.path.relpath(overlay_path("onprem"), folder)
    listed = "".join(f"  - {os.path.relpath(c, folder)}\n" for c in components)
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {onprem}\ncomponents:\n{listed}"
    )
    return folder


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def _terms(pod: dict[str, Any]) -> list[dict[str, Any]]:
    affinity = pod.get("affinity", {}).get("nodeAffinity", {})
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {})
    return [e for t in required.get("nodeSelectorTerms", []) for e in t["matchExpressions"]]


def _volume_problems(
    placed: list[dict[str, Any]], deployment: str, spec: dict[str, Any]
) -> list[str]:
    """Volumes that cannot follow a pod to the cloud: host paths, on-premises claims."""
    problems = []
    claims = by_kind(placed, "PersistentVolumeClaim")
    for volume in spec.get("volumes", []):
        if "hostPath" in volume:
            problems.append(f"{deployment}: mounts a host path ({volume['name']})")
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim == SHARED:
            problems.append(f"{deployment}: mounts the on-premises shared filesystem ({claim})")
        elif claim and claims[claim]["spec"].get("storageClassName") != CLOUD_STORAGE:
            problems.append(f"{deployment}: keeps volume {claim} outside the cloud's storage")
    return problems


def placement_problems(
    placed: list[dict[str, Any]], onprem: list[dict[str, Any]], deployment: str
) -> list[str]:
    """What keeps ``deployment`` from running on the cloud's nodes in ``placed``."""
    problems = []
    deployments = by_kind(placed, "Deployment")
    pod = deployments[deployment]["spec"]["template"]
    spec = pod["spec"]
    if {"key": "socstack.io/site", "operator": "In", "values": ["cloud"]} not in _terms(spec):
        problems.append(f"{deployment}: not required on cloud nodes")
    if not any(t.get("key") == "socstack.io/burst" for t in spec.get("tolerations", [])):
        problems.append(f"{deployment}: does not tolerate the cloud nodes' taint")
    problems += _volume_problems(placed, deployment, spec)
    config = by_kind(placed, "ConfigMap")
    archive = next(c["data"]["SOC_ARCHIVE_URL"] for n, c in config.items() if "config" in n)
    if not archive.startswith("s3://"):
        problems.append(f"{deployment}: the archive is {archive}, not S3")
    labels = pod["metadata"]["labels"]
    before = by_kind(onprem, "Deployment")[deployment]["spec"]["template"]["metadata"]["labels"]
    for policy in by_kind(placed, "NetworkPolicy").values():
        for rule in policy["spec"].get("ingress", []):
            for source in rule.get("from", []):
                wanted = source.get("podSelector", {}).get("matchLabels", {})
                admitted = wanted and wanted.items() <= before.items()
                if admitted and not wanted.items() <= labels.items():
                    name = policy["metadata"]["name"]
                    problems.append(f"{deployment}: no longer admitted by {name}")
    if by_kind(placed, "Ingress") != by_kind(onprem, "Ingress"):
        problems.append("the Ingress changed: clients would find the service elsewhere")
    for name, other in by_kind(onprem, "Deployment").items():
        if name != deployment and deployments.get(name) != other:
            problems.append(f"{name} changed although only {deployment} moves")
    return problems


@pytest.fixture(scope="module")
def onprem() -> list[dict[str, Any]]:
    _, problems, resources = render(overlay_path("onprem"))
    assert problems == []
    return resources


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every placement rendered: service -> its resources."""
    out = {}
    for service in PLACEMENTS:
        folder = placement(tmp_path_factory.mktemp(service) / "o", CLOUD / service)
        _, problems, resources = render(folder)
        assert problems == [], service
        out[service] = resources
    return out


def test_every_movable_service_has_a_placement() -> None:
    assert PLACEMENTS == ["analysis", "api", "hapi", "mining", "viz", "worker"]


def test_what_the_placements_change_validates(
    placed: dict[str, list[dict[str, Any]]], onprem: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Strictly, in one run: what a placement changed (the rest is the on-prem overlay's)."""
    changed = [r for resources in placed.values() for r in resources if r not in onprem]
    assert {r["kind"] for r in changed} == {"Deployment", "PersistentVolumeClaim"}
    rendered = tmp_path / "changed.yaml"
    rendered.write_text(yaml.safe_dump_all(changed))
    assert validate_builtin(rendered, changed) == []


@pytest.mark.parametrize("service", PLACEMENTS)
def test_each_placement_holds_its_requirements(
    service: str, placed: dict[str, list[dict[str, Any]]], onprem: list[dict[str, Any]]
) -> None:
    assert placement_problems(placed[service], onprem, f"socstack-{service}") == []
    pod = by_kind(placed[service], "Deployment")[f"socstack-{service}"]["spec"]["template"]
    assert pod["metadata"]["labels"]["socstack.io/site"] == "cloud"


def test_two_services_move_together(onprem: list[dict[str, Any]], tmp_path: Path) -> None:
    folder = placement(tmp_path / "o", CLOUD / "hapi", CLOUD / "mining")
    _, problems, placed = render(folder)
    assert problems == []
    for service in ("hapi", "mining"):
        moved = by_kind(placed, "Deployment")[f"socstack-{service}"]["spec"]["template"]
        assert {"key": "socstack.io/site", "operator": "In", "values": ["cloud"]} in _terms(
            moved["spec"]
        )


def test_a_service_bound_to_the_shared_filesystem_cannot_move(
    onprem: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The same component aimed at the on-premises worker: the check names what breaks."""
    bad = tmp_path / "components" / "worker-onprem"
    bad.mkdir(parents=True)
    text = (CLOUD / "worker" / "kustomization.yaml").read_text()
    (bad / "kustomization.yaml").write_text(
        text.replace("socstack-worker", "socstack-worker-onprem")
    )
    _, problems, placed = render(placement(tmp_path / "o", bad))
    assert problems == []
    found = placement_problems(placed, onprem, "socstack-worker-onprem")
    assert found == [
        "socstack-worker-onprem: mounts the on-premises shared filesystem (socstack-shared)"
    ]


def test_a_volume_left_on_premises_is_found(onprem: list[dict[str, Any]], tmp_path: Path) -> None:
    """JupyterLab moved without its notebooks' storage class: its volume cannot follow."""
    bad = tmp_path / "components" / "analysis"
    bad.mkdir(parents=True)
    text = (CLOUD / "analysis" / "kustomization.yaml").read_text()
    (bad / "kustomization.yaml").write_text(text[: text.index("  # Its notebooks' volume")])
    _, problems, placed = render(placement(tmp_path / "o", bad))
    assert problems == []
    assert placement_problems(placed, onprem, "socstack-analysis") == [
        "socstack-analysis: keeps volume socstack-notebooks outside the cloud's storage"
    ]
