"""Every kustomize overlay renders and validates strictly, and a broken one does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.deploy.kube import OVERLAYS, check_overlay, crd_json_schema, overlay_path
from tests.deploy.tools import DASK_SCHEMAS, K8S_DIR, KEDA_SCHEMAS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str, tmp_path: Path) -> None:
    problems, resources = check_overlay(overlay_path(overlay), tmp_path)
    assert problems == []
    assert resources


def test_the_kept_crds_say_where_they_come_from() -> None:
    notice = (KEDA_SCHEMAS / "README.md").read_text()
    assert "Apache License 2.0" in notice
    for crd in KEDA_SCHEMAS.glob("*.yaml"):
        assert crd.name in notice
        assert yaml.safe_load(crd.read_text())["kind"] == "CustomResourceDefinition"


def test_the_dask_crd_says_where_it_comes_from() -> None:
    notice = (DASK_SCHEMAS / "README.md").read_text()
    assert "BSD 3-Clause" in notice
    for crd in DASK_SCHEMAS.glob("*.yaml"):
        assert crd.name in notice
        assert yaml.safe_load(crd.read_text())["kind"] == "CustomResourceDefinition"


def test_crd_schemas_are_strict_about_unknown_fields() -> None:
    schema = crd_json_schema(KEDA_SCHEMAS / "keda.sh_scaledobjects.yaml", "keda.sh/v1alpha1")
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["triggers"]["items"]["properties"]["metadata"][
        "additionalProperties"
    ] == {"type": "string"}


@pytest.fixture
def k8s_copy(tmp_path: Path) -> Path:
    """A private copy of k8s/ that a test may break."""
    target = tmp_path / "k8s"
    shutil.copytree(K8S_DIR, target)
    return target


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        # An unknown field in a Deployment (strict schema validation).
        ("base/api.yaml", "  revisionHistoryLimit: 3\n", "  revisionHistoryLimt: 3\n", "ERROR"),
        # A wrong type in a container.
        ("base/hapi.yaml", "containerPort: 8000", 'containerPort: "eight"', "ERROR"),
        # An API version no cluster serves.
        ("base/pdb.yaml", "apiVersion: policy/v1\n", "apiVersion: policy/v2\n", "WARN"),
        # An unknown field in the KEDA ScaledObject (checked against KEDA's CRD).
        (
            "overlays/cloud-burst/keda.yaml",
            "  minReplicaCount: 0\n",
            "  minReplicas: 0\n",
            "ScaledObject",
        ),
        # A kustomization that names a file that is not there.
        (
            "overlays/onprem/kustomization.yaml",
            "  - watcher.yaml\n",
            "  - watchers.yaml\n",
            "kustomize",
        ),
    ],
    ids=["unknown-field", "wrong-type", "unknown-api", "keda-field", "kustomize"],
)
def test_a_broken_manifest_fails(
    k8s_copy: Path, tmp_path: Path, file: str, old: str, new: str, expected: str
) -> None:
    _break(k8s_copy / file, old, new)
    overlay = "cloud-burst" if "cloud-burst" in file else "onprem"
    problems, _ = check_overlay(overlay_path(overlay, k8s_copy), tmp_path)
    assert problems
    assert any(expected in problem for problem in problems), problems
