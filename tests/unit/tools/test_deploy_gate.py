"""The deployment gate (``tools/deploy_gate.py``) on the rendered overlays, and on broken copies of them.

Rendering needs ``kubectl`` (its ``kustomize`` subcommand), a system package: these tests are in the
``system`` group (skipped locally without it, with the install command; failed in CI). The broken
copies are modified in memory (or, for the whole gate, in a copy of ``deploy/k8s`` in a temporary
folder): ``deploy/`` itself is never touched.
"""

from __future__ import annotations

import copy
import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._infra.ci import require_system_tool
from tools import deploy_gate as gate

Obj = dict[str, Any]
INSTALL_KUBECTL = "apt-get install -y kubernetes-client"


@functools.cache
def _rendered(kubectl: str, overlay: str) -> tuple[Obj, ...]:
    return tuple(gate.render(gate.DEPLOY / "k8s" / "overlays" / overlay, kubectl))


@functools.cache
def _consumers() -> dict[str, set[tuple[str, str]]]:
    return gate.code_consumers()


@pytest.fixture
def kubectl(request: pytest.FixtureRequest) -> str:
    return require_system_tool(request, "kubectl", install=INSTALL_KUBECTL)


@pytest.fixture
def objects(kubectl: str) -> list[Obj]:
    """A fresh copy of the production overlay's objects, free to break."""
    return copy.deepcopy(list(_rendered(kubectl, "production")))


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def container(objects: list[Obj], deployment: str) -> Obj:
    found: Obj = find(objects, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    return found


def env_var(c: Obj, name: str) -> Obj:
    return next(e for e in c["env"] if e["name"] == name)


def wiring(objects: list[Obj]) -> list[str]:
    return gate.check_wiring(objects, _consumers())


# --- the overlays as they are ------------------------------------------------------------------------


@pytest.mark.system
@pytest.mark.parametrize("overlay", gate.OVERLAYS)
def test_every_overlay_passes_every_check(kubectl: str, overlay: str) -> None:
    objects = list(_rendered(kubectl, overlay))
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "ScaledObject", "Cluster", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert gate.check_core_schemas(objects) == []
    assert gate.check_custom_resources(objects) == []
    assert gate.check_policy(objects) == []
    assert gate.check_stop_windows(objects) == []
    assert wiring(objects) == []
    assert gate.check_monitoring_endpoints(objects) == []
    assert gate.check_connection_budget(objects) == []


@pytest.mark.system
def test_every_service_has_an_api_and_a_worker_and_the_workers_scale_on_their_consumers(objects: list[Obj]) -> None:
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    for svc in gate.SERVICES:
        assert {svc, f"{svc}-worker"} <= deployments
        triggers = find(objects, "ScaledObject", f"{svc}-worker")["spec"]["triggers"]
        assert {(t["metadata"]["stream"], t["metadata"]["consumer"]) for t in triggers} == _consumers()[svc]
    assert "facade" in deployments
    assert ("ORDERS", "inventory-order-events") in _consumers()["inventory"]


@pytest.mark.system
def test_the_overlays_pin_the_image_and_differ_in_size(kubectl: str) -> None:
    dev, prod = (list(_rendered(kubectl, name)) for name in ("dev", "production"))
    for objects in (dev, prod):
        images = {c.spec["image"] for c in gate.containers(objects)}
        assert images == {"registry.example.com/jewelry-mes:0.1.0"}
    assert (
        find(dev, "Cluster", "mes-postgres")["spec"]["instances"]
        < find(prod, "Cluster", "mes-postgres")["spec"]["instances"]
    )
    assert (
        find(dev, "Deployment", "orders")["spec"]["replicas"] < find(prod, "Deployment", "orders")["spec"]["replicas"]
    )


# --- broken copies: each check finds what it is for ----------------------------------------------------


def _drop_limits(objects: list[Obj]) -> None:
    del container(objects, "inventory-worker")["resources"]["limits"]


def _latest(objects: list[Obj]) -> None:
    container(objects, "facade")["image"] = "registry.example.com/jewelry-mes:latest"


def _untagged(objects: list[Obj]) -> None:
    container(objects, "orders")["image"] = "registry.example.com/jewelry-mes"


def _root(objects: list[Obj]) -> None:
    container(objects, "orders")["securityContext"]["runAsUser"] = 0


def _non_root_off(objects: list[Obj]) -> None:
    container(objects, "webhooks")["securityContext"]["runAsNonRoot"] = False


def _no_readiness(objects: list[Obj]) -> None:
    del container(objects, "analytics-worker")["readinessProbe"]


def _tcp_probe(objects: list[Obj]) -> None:
    container(objects, "production")["livenessProbe"] = {"tcpSocket": {"port": 50153}}


def _probe_port(objects: list[Obj]) -> None:
    container(objects, "orders")["readinessProbe"]["grpc"]["port"] = 50152


@pytest.mark.system
@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        (_drop_limits, "Deployment/inventory-worker container inventory-worker: no limits for cpu, memory"),
        (_latest, "uses the `latest` tag"),
        (_untagged, "has no tag"),
        (_root, "Deployment/orders container orders: runs as user 0"),
        (_non_root_off, "Deployment/webhooks container webhooks: runAsNonRoot is not true"),
        (_no_readiness, "Deployment/analytics-worker container analytics-worker: no readinessProbe"),
        (_tcp_probe, "livenessProbe is not a native gRPC probe"),
        (_probe_port, "readinessProbe asks port 50152, gRPC is on 50151"),
    ],
)
def test_the_policy_finds(objects: list[Obj], breaks: Callable[[list[Obj]], None], expected: str) -> None:
    breaks(objects)
    findings = gate.check_policy(objects)
    assert any(expected in f for f in findings), findings


@pytest.mark.system
def test_core_objects_are_validated_strictly(objects: list[Obj]) -> None:
    container(objects, "facade")["imagePullPolice"] = "Always"
    find(objects, "HorizontalPodAutoscaler", "facade")["spec"]["minReplicas"] = "three"
    findings = gate.check_core_schemas(objects)
    assert any(
        f.startswith("Deployment/facade: spec/template/spec/containers/0") and "imagePullPolice" in f for f in findings
    )
    assert any(f.startswith("HorizontalPodAutoscaler/facade: spec/minReplicas") for f in findings), findings


@pytest.mark.system
def test_custom_resources_are_validated_against_their_crd_schemas(objects: list[Obj]) -> None:
    scaled = find(objects, "ScaledObject", "orders-worker")
    scaled["spec"]["maxReplicas"] = 3  # the HPA's name, not KEDA's (maxReplicaCount)
    scaled["spec"]["pollingInterval"] = "15s"
    scaled["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "10"
    del scaled["spec"]["triggers"][1]["metadata"]["stream"]
    find(objects, "Cluster", "mes-postgres")["spec"]["instances"] = "three"
    findings = gate.check_custom_resources(objects)
    expected = [
        "ScaledObject/orders-worker: spec: Additional properties are not allowed ('maxReplicas' was unexpected)",
        "ScaledObject/orders-worker: spec/pollingInterval: '15s' is not of type 'integer'",
        "ScaledObject/orders-worker: triggers/0/metadata/(all): Additional properties are not allowed ('lagTreshold'",
        "ScaledObject/orders-worker: triggers/1/metadata/(all): 'stream' is a required property",
        "Cluster/mes-postgres: spec/instances: 'three' is not of type 'integer'",
    ]
    for text in expected:
        assert any(f.startswith(text) for f in findings), (text, findings)


@pytest.mark.system
def test_an_unvendored_custom_resource_is_a_finding(objects: list[Obj]) -> None:
    objects.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "facade"}})
    assert gate.check_custom_resources(objects) == [
        "PodMonitor/facade: no schema vendored for monitoring.coreos.com/v1 (deploy/schemas)"
    ]


@pytest.mark.system
def test_stop_windows_follow_the_settings(objects: list[Obj]) -> None:
    config = find(objects, "ConfigMap", "mes-config")
    config["data"]["MES_SHUTDOWN_GRACE_S"] = "40"
    findings = gate.check_stop_windows(objects)
    short = [f for f in findings if "< the stop window" in f]
    # every service process reads MES_SHUTDOWN_GRACE_S; the facade has its own
    assert len(short) == 2 * len(gate.SERVICES), findings
    assert any(
        "Deployment/orders container orders: terminationGracePeriodSeconds 40 < the stop window 61 s" in f
        for f in short
    )
    config["data"]["MES_SHUTDOWN_GRACE_S"] = "15"
    find(objects, "Deployment", "facade")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 300
    assert [f.split(":")[0] for f in gate.check_stop_windows(objects)] == ["Deployment/facade container facade"]


@pytest.mark.system
def test_a_per_service_override_and_the_webhooks_deliveries_count(objects: list[Obj]) -> None:
    worker = container(objects, "webhooks-worker")
    worker["env"].append({"name": "MES_WEBHOOKS_REQUEST_TIMEOUT_S", "value": "60"})
    api = container(objects, "inventory")
    api["env"].append({"name": "MES_INVENTORY_SHUTDOWN_DELAY_S", "value": "30"})
    findings = gate.check_stop_windows(objects)
    assert len(findings) == 2, findings
    assert "Deployment/webhooks-worker" in findings[0] or "Deployment/webhooks-worker" in findings[1]
    assert any("Deployment/inventory container inventory" in f and "NOT_SERVING delay 30" in f for f in findings)


@pytest.mark.system
def test_wiring_finds_wrong_consumers_roles_and_autoscalers(objects: list[Obj]) -> None:
    find(objects, "ScaledObject", "inventory-worker")["spec"]["triggers"][0]["metadata"]["consumer"] = "inventory-prod"
    env_var(container(objects, "production-worker"), "MES_PRODUCTION_ROLE")["value"] = "api"
    hpa = copy.deepcopy(find(objects, "HorizontalPodAutoscaler", "orders"))
    hpa["metadata"]["name"] = "orders-worker"
    hpa["spec"]["scaleTargetRef"]["name"] = "orders-worker"
    objects.append(hpa)
    objects.remove(find(objects, "HorizontalPodAutoscaler", "facade"))
    objects.remove(find(objects, "PodDisruptionBudget", "analytics-worker"))
    findings = wiring(objects)
    expected = [
        "ScaledObject/inventory-worker: triggers on",
        "Deployment/production-worker container production-worker: MES_PRODUCTION_ROLE is not 'worker'",
        "HorizontalPodAutoscaler/orders-worker: orders-worker is scaled by ScaledObject/orders-worker",
        "HorizontalPodAutoscaler: none scales the facade on CPU",
        "Deployment/analytics-worker: no PodDisruptionBudget selects its pods",
    ]
    for text in expected:
        assert any(f.startswith(text) for f in findings), (text, findings)
    assert len(findings) == len(expected), findings


@pytest.mark.system
def test_wiring_finds_database_urls_off_the_cluster_services(objects: list[Obj]) -> None:
    c = container(objects, "orders")
    read = env_var(c, "MES_ORDERS_DATABASE_READ_URL")
    read["value"] = read["value"].replace("mes-postgres-ro", "mes-postgres-rw")
    c["env"].remove(env_var(c, "MES_ORDERS_DATABASE_URL"))
    findings = wiring(objects)
    assert findings == [
        "Deployment/orders container orders: MES_ORDERS_DATABASE_READ_URL points at"
        " 'mes-postgres-rw.mes.svc.cluster.local', not mes-postgres-ro.mes.svc.cluster.local",
        "Deployment/orders: MES_ORDERS_DATABASE_URL is not written out (the -rw/-ro wiring)",
    ]


@pytest.mark.system
def test_the_connection_budget_counts_every_pod_at_its_autoscalers_maximum(objects: list[Obj]) -> None:
    most = gate.max_replicas(objects)
    assert most["orders"] == find(objects, "HorizontalPodAutoscaler", "orders")["spec"]["maxReplicas"]
    assert most["orders-worker"] == find(objects, "ScaledObject", "orders-worker")["spec"]["maxReplicaCount"]
    # one more pool of 4 on a service (8 connections per pod) tips the production overlay over
    c = container(objects, "orders")
    c["env"].append({"name": "MES_ORDERS_DATABASE_POOL_SIZE", "value": "20"})
    (finding,) = gate.check_connection_budget(objects)
    assert "over max_connections 800 less 13 reserved" in finding
    assert f"Deployment/orders {most['orders']} x 40" in finding
    # a larger max_connections makes room again
    cluster = next(o for o in objects if o["kind"] == "Cluster")
    cluster["spec"]["postgresql"]["parameters"]["max_connections"] = "2000"
    assert gate.check_connection_budget(objects) == []


@pytest.mark.system
def test_the_whole_gate_fails_on_a_broken_copy_of_the_manifests(kubectl: str, tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    shutil.copytree(gate.DEPLOY / "k8s", k8s)
    facade = k8s / "base" / "facade.yaml"
    text = facade.read_text(encoding="utf-8")
    assert text.count("terminationGracePeriodSeconds: 40") == 1
    facade.write_text(text.replace("terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 10"), "utf-8")
    lines: list[str] = []
    findings = gate.run_gate(kubectl, k8s=k8s, overlays=("dev",), say=lines.append)
    assert [f.split(" < ")[0] for f in findings] == [
        "[dev] stop windows: Deployment/facade container facade: terminationGracePeriodSeconds 10"
    ]
    assert any(line.strip().startswith("[dev] render") for line in lines)


# --- without kubectl -------------------------------------------------------------------------------------


def test_the_gate_says_what_to_install_when_kubectl_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(gate, "find_kubectl", lambda: None)
    assert gate.main([]) == 2
    assert "apt-get install -y kubernetes-client" in capsys.readouterr().err
    assert gate.main(["--kubectl", str(tmp_path / "no-kubectl"), "--overlay", "dev"]) == 2
    assert "cannot run" in capsys.readouterr().err


def test_crd_schemas_are_made_as_strict_as_the_api_server() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"b": {}}},
        },
    }
    strict = gate.strict_schema(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["spec"]["additionalProperties"] is False
    assert strict["properties"]["spec"]["properties"]["a"]["type"] == ["string", "null"]
    assert "additionalProperties" not in strict["properties"]["free"]


def test_the_nats_values_fit_the_chart(tmp_path: Path) -> None:
    assert gate.check_nats_values() == []
    broken = tmp_path / "values.yaml"
    text = (gate.DEPLOY / "nats" / "values.yaml").read_text(encoding="utf-8")
    broken.write_text(
        text.replace("    replicas: 3", "    replicas: 1").replace("  jetstream:", "  jetStream:"), "utf-8"
    )
    assert gate.check_nats_values(broken) == [
        "values.yaml: config.jetStream is not a value of the chart",
        "values.yaml: config.cluster.replicas is 1, expected 3",
        "values.yaml: config.jetstream.enabled is None, expected True",
        "values.yaml: config.jetstream.fileStore.enabled is None, expected True",
        "values.yaml: config.jetstream.fileStore.pvc.enabled is None, expected True",
        "values.yaml: config.jetstream.memoryStore.enabled is None, expected False",
    ]


def test_the_dockerfile_and_the_workflow_pass_their_linters(tmp_path: Path) -> None:
    assert gate.check_dockerfile() == []
    assert gate.check_workflows() == []
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n", encoding="utf-8")
    codes = " ".join(gate.check_dockerfile(bad))
    assert "DL3007" in codes and "DL3003" in codes
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "ci.yml").write_text(
        "on: push\njobs:\n  ci:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n", "utf-8"
    )
    findings = " ".join(gate.check_workflows(workflows))
    assert "unpinned-uses" in findings and "excessive-permissions" in findings, findings
