"""The rendered Kubernetes manifests say what the design needs, not only what parses.

Every workload is probed, sized and locked down; the network is default-deny; the
on-prem overlay runs the whole stack with a worker for every queue; the cloud-burst
overlay runs only the portable workers (processing.any, mining), only on tainted cloud
nodes, only through S3, each scaled from zero by KEDA on the very Redis list that Celery
fills for its queue.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from socstack.config import DEFAULT_QUEUES, Settings
from socstack.pipeline.celery_app import make_celery, queue_name
from socstack.pipeline.tasks import TASK_NAME
from tests.conftest import unavailable
from tests.deploy.kube import OVERLAYS, overlay_path, render
from tests.deploy.test_compose import longest_job

Resource = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet")
CLOUD_NODE = ({"socstack.io/site": "cloud"}, [("socstack.io/burst", "true", "NoSchedule")])
ONPREM_NODE: tuple[dict[str, str], list[tuple[str, str, str]]] = ({}, [])
ONPREM_LABELLED = ({"socstack.io/site": "onprem"}, [])
#: The queues whose jobs reach data only through SOC_ARCHIVE_URL: they may run in a cloud.
PORTABLE = {"processing.any": "socstack-worker", "mining": "socstack-mining"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Resource]]:
    """Each overlay as ``kubectl kustomize`` renders it."""
    out = {}
    for overlay in OVERLAYS:
        _, problems, resources = render(overlay_path(overlay))
        assert problems == []
        out[overlay] = resources
    return out


def of_kind(resources: list[Resource], *kinds: str) -> list[Resource]:
    return [r for r in resources if r["kind"] in kinds]


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    (found,) = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


def pod_spec(resource: Resource) -> dict[str, Any]:
    return resource["spec"]["template"]["spec"]


def config(resources: list[Resource]) -> dict[str, str]:
    (found,) = [
        r
        for r in of_kind(resources, "ConfigMap")
        if r["metadata"]["name"].startswith("socstack-config")
    ]
    return found["data"]


def queues(container: dict[str, Any]) -> list[str]:
    args = container["args"]
    assert args[:2] == ["socstack", "worker"], args
    return args[args.index("--queues") + 1].split(",")


def workers(resources: list[Resource]) -> list[Resource]:
    return [
        d
        for d in of_kind(resources, "Deployment")
        if pod_spec(d)["containers"][0]["args"][:2] == ["socstack", "worker"]
    ]


def schedulable(
    spec: dict[str, Any], labels: dict[str, str], taints: list[tuple[str, str, str]]
) -> bool:
    """Whether the scheduler may place a pod of ``spec`` on a node like this.

    Implements what the manifests use: NoSchedule taints against Equal/Exists
    tolerations, and required node affinity with In/NotIn/Exists/DoesNotExist.
    """
    tolerations = spec.get("tolerations", [])
    for key, value, effect in taints:
        if not any(
            t.get("key") == key
            and t.get("effect", effect) == effect
            and (t.get("operator") == "Exists" or t.get("value") == value)
            for t in tolerations
        ):
            return False
    required = (
        spec.get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if not required:
        return True

    def matches(expression: dict[str, Any]) -> bool:
        present, value = expression["key"] in labels, labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In":
            return present and value in expression["values"]
        if operator == "NotIn":
            return not present or value not in expression["values"]
        if operator == "Exists":
            return present
        if operator == "DoesNotExist":
            return not present
        raise AssertionError(f"operator {operator} not modelled")

    return any(
        all(matches(e) for e in term.get("matchExpressions", []))
        for term in required["nodeSelectorTerms"]
    )


# -- every overlay --------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_probed_sized_and_locked_down(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    for workload in of_kind(rendered[overlay], *WORKLOADS, "Job"):
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] != 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            where = f"{name} {container['name']}"
            if workload["kind"] in WORKLOADS:
                assert "readinessProbe" in container, where
                assert "livenessProbe" in container, where
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(requests), where
            assert "memory" in container["resources"]["limits"], where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    budgets = [
        b["spec"]["selector"]["matchLabels"]
        for b in of_kind(rendered[overlay], "PodDisruptionBudget")
    ]
    for deployment in of_kind(rendered[overlay], "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(b.items() <= labels.items() for b in budgets), deployment["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_network_is_default_deny(rendered: dict[str, list[Resource]], overlay: str) -> None:
    policies = of_kind(rendered[overlay], "NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    )
    # ...and every pod that talks to a data store is allowed to.
    allowed = [
        p["spec"]["podSelector"].get("matchLabels", {})
        for p in policies
        if "Egress" in p["spec"]["policyTypes"] and p["spec"].get("egress")
    ]
    for workload in of_kind(rendered[overlay], "Deployment", "Job"):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if (
            workload["metadata"]["name"].startswith("socstack-")
            and "minio" not in workload["metadata"]["name"]
        ):
            assert labels.get("socstack.io/datastore-client") == "true", workload["metadata"]
            assert any(a and a.items() <= labels.items() for a in allowed)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_kept_in_the_manifests(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    assert of_kind(rendered[overlay], "Secret") == []
    for value in config(rendered[overlay]).values():
        assert "@" not in value and "password" not in value.lower(), value


# -- on-premises -----------------------------------------------------------------------------


def test_onprem_runs_the_whole_stack(rendered: dict[str, list[Resource]]) -> None:
    resources = rendered["onprem"]
    deployments = {d["metadata"]["name"] for d in of_kind(resources, "Deployment")}
    assert {
        "socstack-api",
        "socstack-hapi",
        "socstack-viz",
        "socstack-analysis",
        "socstack-planner",
        "socstack-watcher",
        "socstack-worker",
        "socstack-worker-onprem",
        "socstack-mining",
    } <= deployments
    stores = {s["metadata"]["name"] for s in of_kind(resources, "StatefulSet")}
    assert stores == {"socstack-postgres", "socstack-redis", "socstack-minio"}
    migrate = named(resources, "Job", "socstack-migrate")
    assert pod_spec(migrate)["containers"][0]["args"] == ["socstack", "db", "upgrade"]


def test_onprem_ingress_routes_every_path_to_a_live_service(
    rendered: dict[str, list[Resource]],
) -> None:
    resources = rendered["onprem"]
    (ingress,) = of_kind(resources, "Ingress")
    routes = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert set(routes) == {"/hapi", "/api", "/metrics", "/viz", "/notebook"}
    for path, service_name in routes.items():
        service = named(resources, "Service", service_name)
        selector = service["spec"]["selector"]
        backends = [
            d
            for d in of_kind(resources, "Deployment")
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(backends) == 1, path
        probe = pod_spec(backends[0])["containers"][0]["readinessProbe"]["httpGet"]["path"]
        assert probe.startswith(path if path != "/metrics" else "/api"), (path, probe)


def test_onprem_jupyterlab_takes_socstacks_sign_in_not_a_shared_token(
    rendered: dict[str, list[Resource]],
) -> None:
    """The analysis pod runs the sign-in proxy; no setting or secret of JupyterLab's is named."""
    from socstack.cli.serve import NOTEBOOK_PORT

    resources = rendered["onprem"]
    (container,) = pod_spec(named(resources, "Deployment", "socstack-analysis"))["containers"]
    assert container["args"] == ["socstack", "serve", "notebook"]
    assert [p["containerPort"] for p in container["ports"]] == [NOTEBOOK_PORT]
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        # The one path the proxy answers without credentials (a probe sends none).
        assert container[kind]["httpGet"] == {"path": "/notebook/api", "port": "http"}, kind
    assert not [e for e in container.get("env", []) if "JUPYTER" in e["name"]]
    for resource in resources:
        assert "JUPYTER" not in str(resource), resource["metadata"]["name"]


def test_onprem_workers_take_every_queue_and_stay_on_premises(
    rendered: dict[str, list[Resource]], demo_missions: Any
) -> None:
    pools = workers(rendered["onprem"])
    taken = {q for w in pools for q in queues(pod_spec(w)["containers"][0])}
    # Every queue a rule may name by default (SOC_QUEUES is not set here), and the demo's.
    assert "SOC_QUEUES" not in config(rendered["onprem"])
    needed = set(DEFAULT_QUEUES) | {
        rule.queue for mission in demo_missions for rule in mission.rules.values()
    }
    assert needed <= taken, needed - taken
    for worker in pools:
        spec = pod_spec(worker)
        assert schedulable(spec, *ONPREM_NODE)
        assert schedulable(spec, *ONPREM_LABELLED)
        assert not schedulable(spec, *CLOUD_NODE), worker["metadata"]["name"]
    onprem = named(rendered["onprem"], "Deployment", "socstack-worker-onprem")
    assert "processing.onprem" in queues(pod_spec(onprem)["containers"][0])
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod_spec(onprem)["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["socstack-shared"]
    shared = named(rendered["onprem"], "PersistentVolumeClaim", "socstack-shared")
    assert shared["spec"]["accessModes"] == ["ReadWriteMany"]


# -- cloud burst -----------------------------------------------------------------------------


def test_cloud_burst_is_portable_workers_only(rendered: dict[str, list[Resource]]) -> None:
    resources = rendered["cloud-burst"]
    kinds = {r["kind"] for r in resources}
    assert not kinds & {"Service", "Ingress", "StatefulSet", "Job", "PersistentVolumeClaim"}
    deployments = of_kind(resources, "Deployment")
    assert deployments == workers(resources)
    taken = {}
    for deployment in deployments:
        assert "replicas" not in deployment["spec"]  # KEDA owns the count
        for container in pod_spec(deployment)["containers"]:
            (queue,) = queues(container)
            taken[queue] = deployment["metadata"]["name"]
    assert taken == PORTABLE


def test_cloud_burst_workers_run_only_on_tainted_cloud_nodes(
    rendered: dict[str, list[Resource]],
) -> None:
    for worker in workers(rendered["cloud-burst"]):
        spec = pod_spec(worker)
        assert schedulable(spec, *CLOUD_NODE)
        assert not schedulable(spec, *ONPREM_NODE)
        assert not schedulable(spec, *ONPREM_LABELLED)
        # Required (not preferred) affinity: the scheduler never relaxes it.
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"]


def test_cloud_burst_workers_reach_data_only_through_s3(
    rendered: dict[str, list[Resource]],
) -> None:
    resources = rendered["cloud-burst"]
    settings = config(resources)
    assert settings["SOC_ARCHIVE_URL"].startswith("s3://")
    assert settings["SOC_QUARANTINE_URL"].startswith("s3://")
    for worker in workers(resources):
        for volume in pod_spec(worker)["volumes"]:
            assert set(volume) == {"name", "emptyDir"}, volume  # scratch only


def test_cloud_burst_shutdown_outlasts_every_job_it_may_run(
    rendered: dict[str, list[Resource]], demo_missions: Any
) -> None:
    settings = config(rendered["cloud-burst"])
    for worker in workers(rendered["cloud-burst"]):
        longest = longest_job(demo_missions, queues(pod_spec(worker)["containers"][0]))
        grace = pod_spec(worker)["terminationGracePeriodSeconds"]
        # The task's hard limit is its timeout + 30 s (pipeline.tasks.sender).
        assert grace >= longest + 30 + 60, grace
        # An unacknowledged task comes back only after a worker can no longer be on it.
        assert int(settings["SOC_BROKER_VISIBILITY_TIMEOUT"]) > grace


def redis_list_key(settings: Settings, queue: str) -> str:
    """The Redis key of a queue's list: kombu's global key prefix, then the queue name."""
    return f"{settings.queue_prefix}{queue_name(settings, queue)}"


def test_each_scaled_object_watches_its_workers_list(
    rendered: dict[str, list[Resource]],
) -> None:
    resources = rendered["cloud-burst"]
    scaled = {
        s["spec"]["scaleTargetRef"]["name"]: s["spec"] for s in of_kind(resources, "ScaledObject")
    }
    pools = {
        w["metadata"]["name"]: queues(pod_spec(w)["containers"][0]) for w in workers(resources)
    }
    assert set(scaled) == set(pools)  # one per kind of worker, and only for them
    values = config(resources)
    settings = Settings(queue_prefix=values["SOC_QUEUE_PREFIX"], data_dir=Path("/tmp"))
    for target, spec in scaled.items():
        assert spec["minReplicaCount"] == 0
        assert spec["maxReplicaCount"] >= 1
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis"
        (queue,) = pools[target]
        assert trigger["metadata"]["listName"] == redis_list_key(settings, queue), target
        # It wakes only past a backlog threshold, then sizes by the backlog.
        assert int(trigger["metadata"]["activationListLength"]) > 0
        assert int(trigger["metadata"]["listLength"]) > 0
        auth = named(resources, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        parameters = {p["parameter"] for p in auth["spec"]["secretTargetRef"]}
        assert parameters == {"address", "password"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_mining_workers_run_the_mining_image_with_a_writable_numba_cache(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    mining = named(rendered[overlay], "Deployment", "socstack-mining")
    spec = pod_spec(mining)
    (container,) = spec["containers"]
    assert container["image"].split(":")[0] == "ghcr.io/socstack/socstack-mining"
    assert queues(container) == ["mining"]
    assert container["livenessProbe"]["exec"]["command"] == ["socstack", "health", "--broker"]
    # numba writes its cache at NUMBA_CACHE_DIR: on an emptyDir, the root being read-only.
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    cache = Path(env.get("NUMBA_CACHE_DIR") or config(rendered[overlay])["NUMBA_CACHE_DIR"])
    scratch = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    mounts = [Path(m["mountPath"]) for m in container["volumeMounts"] if m["name"] in scratch]
    assert any(cache.is_relative_to(m) for m in mounts), (cache, mounts)
    # No other worker takes the mining queue: the mining extra is in this image only.
    others = [w for w in workers(rendered[overlay]) if w is not mining]
    assert not [w for w in others if "mining" in queues(pod_spec(w)["containers"][0])]


@pytest.mark.integration
def test_redis_list_key_is_where_celery_puts_processing_any(tmp_path: Path) -> None:
    """On the machine's Redis: a job sent to processing.any lands in that very list."""
    from tests.integration.pipeline_stack import REDIS_URL, reachable

    if (why := reachable(REDIS_URL)) is not None:
        unavailable(f"Redis at {REDIS_URL} ({why})")
    prefix = f"deploytest-{uuid.uuid4().hex[:8]}."
    settings = Settings(broker_url=REDIS_URL, queue_prefix=prefix, data_dir=tmp_path)
    key = redis_list_key(settings, "processing.any")
    app = make_celery(settings)
    app.send_task(TASK_NAME, args=[0], queue=queue_name(settings, "processing.any"))
    plain = redis.Redis.from_url(REDIS_URL)
    try:
        assert plain.llen(key) == 1, sorted(plain.scan_iter(f"*{prefix}*"))
    finally:
        for stale in plain.scan_iter(f"*{prefix}*"):
            plain.delete(stale)
        plain.close()


# -- Dask (the operator's DaskCluster) ---------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_dask_cluster_is_where_its_clients_look_and_locked_down(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    (cluster,) = of_kind(rendered[overlay], "DaskCluster")
    name = cluster["metadata"]["name"]
    # The operator names the scheduler's service after the cluster.
    address = f"tcp://{name}-scheduler:8786"
    settings = config(rendered[overlay])
    assert settings["SOC_DASK_SCHEDULER"] == address
    assert settings["DASK_SCHEDULER_ADDRESS"] == address
    ports = {p["port"] for p in cluster["spec"]["scheduler"]["service"]["ports"]}
    assert 8786 in ports
    for part in ("worker", "scheduler"):
        spec = cluster["spec"][part]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            assert container["image"].startswith("ghcr.io/socstack/socstack-analysis")
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert "memory" in container["resources"]["limits"]
    workers_labels = cluster["spec"]["worker"]["metadata"]["labels"]
    assert workers_labels["socstack.io/datastore-client"] == "true", "workers read the archive"


def test_onprem_dask_runs_on_premises_and_cloud_burst_dask_on_burst_nodes(
    rendered: dict[str, list[Resource]],
) -> None:
    (onprem,) = of_kind(rendered["onprem"], "DaskCluster")
    (cloud,) = of_kind(rendered["cloud-burst"], "DaskCluster")
    for part in ("worker", "scheduler"):
        assert schedulable(onprem["spec"][part]["spec"], *ONPREM_NODE)
        assert not schedulable(onprem["spec"][part]["spec"], *CLOUD_NODE)
        assert schedulable(cloud["spec"][part]["spec"], *CLOUD_NODE)
        assert not schedulable(cloud["spec"][part]["spec"], *ONPREM_NODE)
        assert not schedulable(cloud["spec"][part]["spec"], *ONPREM_LABELLED)
    assert cloud["spec"]["worker"]["replicas"] == 0, "cloud workers from zero"
    assert cloud["metadata"]["namespace"] == "socstack-burst"
