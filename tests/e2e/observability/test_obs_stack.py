"""Monitoring the running stack: one `mes up` (every service's API process and worker, and the facade,
each serving ``/metrics`` on a port of its own) for the module.

* The Grafana dashboard and the alert rules read only metrics the processes export (or the rules
  record), scraped from every process.
* Every process's ``/metrics`` passes ``promtool check metrics`` (system group).
* A real Prometheus scrapes the stack with a copy of the alert rules whose durations are divided by
  60 (``for: 10m`` -> ``10s``, ``[5m]`` -> ``[5s]``); production's worker is stopped (SIGSTOP: `mes up`
  would stop everything if a child exited) while orders keep coming, and ``MesConsumerLagGrowing``
  fires for production's consumer of ORDERS, reported by the orders worker that publishes them
  (system group). Everything started is stopped by PID.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes_stack.options import SERVICES
from mes_stack.partner_keys import PARTNERS_FILE
from tests._infra.ci import require_system_tool, service_unavailable
from tests._infra.nats import NATS_MISSING, find_nats_server
from tests._infra.ports import free_port, free_ports, signal_pid, stop_process
from tests.e2e._stack import RunningStack, stack_env, start_stack, stop_stack
from tests.integration.observability.obs_helpers import (
    ALERTS,
    INSTALL_PROMETHEUS,
    dashboard_expressions,
    exported_names,
    metric_names,
    promtool,
    recorded_names,
    rule_expressions,
    run,
    scrape,
)

#: The worker stopped: it runs production's consumer of the orders' events.
STOPPED = "production-worker"
LAGGING = {"stream": "ORDERS", "consumer": "production-order-events"}
ALERT = "MesConsumerLagGrowing"
#: Liveness bounds (generous: the machine may be busy), never timing claims.
READY_S = 60.0
FIRING_S = 240.0
#: One ring of the demo catalogue (its style, alloy and stock are in the demo data).
LINE = orders_pb2.OrderLine(line_number=1, style_code="RNG-SOL-001", alloy_code="AU750Y", size="52", quantity=1)
_METRICS_LINE = re.compile(r"^\s+(\S+)\s+(http://\S+/metrics)\s*$")


@dataclass
class ObsStack:
    stack: RunningStack
    #: Process name -> its ``/metrics`` URL, as ``mes up`` printed them.
    metrics: dict[str, str]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _with_metrics_ports(env: dict[str, str]) -> dict[str, str]:
    """``env`` with a metrics port for each service: ``mes up`` puts a worker's as far from its API
    process's as their gRPC ports are, so both must be free."""
    taken = {int(v) for k, v in env.items() if k.endswith("_PORT") and v.isdigit()}
    for service in SERVICES:
        api, worker = env.get(f"MES_{service.upper()}_GRPC_PORT"), env.get(f"MES_{service.upper()}_WORKER_PORT")
        if api is None or worker is None:
            continue  # a service this environment leaves on its defaults runs without metrics here
        for _ in range(200):
            port = free_port()
            paired = port + int(worker) - int(api)
            if 1024 < paired < 65536 and not {port, paired} & taken and port != paired and _port_free(paired):
                env[f"MES_{service.upper()}_METRICS_PORT"] = str(port)
                taken |= {port, paired}
                break
        else:
            pytest.fail(f"no pair of free metrics ports for {service}")
    return env


@pytest.fixture(scope="module")
def obs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObsStack]:
    if find_nats_server() is None:
        service_unavailable(NATS_MISSING)
    env = _with_metrics_ports(stack_env())
    env["MES_METRICS_POLL_S"] = "0.5"  # the pipeline's gauges, read twice a second
    stack = start_stack(tmp_path_factory.mktemp("obs-stack"), env)
    try:
        metrics = {m.group(1): m.group(2) for line in stack.lines if (m := _METRICS_LINE.match(line))}
        names = {p.name for p in stack.state().processes}
        assert {"facade", "orders", "orders-worker", STOPPED} <= set(metrics) <= names, stack.output
        yield ObsStack(stack, metrics)
    finally:
        stop_stack(stack)


def _scrapes(obs: ObsStack) -> dict[str, str]:
    return {name: scrape(url) for name, url in obs.metrics.items()}


def test_the_dashboard_and_the_rules_read_only_metrics_the_processes_export(obs: ObsStack) -> None:
    scraped = _scrapes(obs)
    exported = set().union(*(exported_names(text) for text in scraped.values()))
    recorded = recorded_names()
    # what each kind of process is watched by
    assert "mes_graphql_requests_total" in exported_names(scraped["facade"])
    for name in ("orders", "orders-worker"):
        assert {"mes_grpc_server_requests_total", "mes_outbox_oldest_unpublished_age_seconds"} <= exported_names(
            scraped[name]
        )
    assert "mes_consumer_pending_messages" in exported_names(scraped["orders-worker"])

    def unknown(expr: str) -> set[str]:
        return {n for n in metric_names(expr) if n not in (recorded if ":" in n else exported)}

    dashboard = dashboard_expressions()
    assert len(dashboard) >= 15
    missing = {expr: unknown(expr) for expr in dashboard if unknown(expr)}
    assert not missing, f"dashboard queries read metrics no process exports: {missing}"
    rules = rule_expressions()
    assert len(rules) == len(re.findall(r"-\s*(?:record|alert):", ALERTS.read_text()))
    missing = {name: unknown(expr) for name, expr in rules.items() if unknown(expr)}
    assert not missing, f"rules read metrics no process exports: {missing}"


@pytest.mark.system
def test_every_process_metrics_pass_the_lint(request: pytest.FixtureRequest, obs: ObsStack) -> None:
    tool = promtool(request)
    for name, text in _scrapes(obs).items():
        result = run([tool, "check", "metrics"], stdin=text)
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (name, result.stdout)


# -- Prometheus against the stack -------------------------------------------------------------------


def _seconds(amount: str, unit: str) -> int:
    return int(amount) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def scaled_rules(text: str, divisor: int = 60) -> str:
    """The rules with every ``for:`` and range duration divided by ``divisor`` (at least 1 s)."""

    def short(amount: str, unit: str) -> str:
        return f"{max(1, _seconds(amount, unit) // divisor)}s"

    text = re.sub(r"(for:\s*)(\d+)([smhd])\b", lambda m: m.group(1) + short(m.group(2), m.group(3)), text)
    return re.sub(r"\[(\d+)([smhd])\]", lambda m: f"[{short(m.group(1), m.group(2))}]", text)


def test_the_scaled_copy_shortens_every_duration() -> None:
    copy = scaled_rules("for: 10m\nexpr: rate(x[5m]) > 0 and deriv(y[10m]) > 0 and increase(z[15m]) > 0\nfor: 1h")
    assert copy == "for: 10s\nexpr: rate(x[5s]) > 0 and deriv(y[10s]) > 0 and increase(z[15s]) > 0\nfor: 60s"


class Prometheus:
    """A ``prometheus`` server on a free loopback port with its own data folder; stopped by PID."""

    def __init__(self, binary: str, folder: Path, targets: dict[str, str]) -> None:
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        rules = folder / "alerts.yml"
        rules.write_text(scaled_rules(ALERTS.read_text()))
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {
                    "job_name": "mes",
                    "static_configs": [
                        {"targets": [urllib.parse.urlsplit(url).netloc], "labels": {"process": name}}
                        for name, url in sorted(targets.items())
                    ],
                }
            ],
        }
        (folder / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.log = folder / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        body = json.loads(scrape(f"{self.url}{path}{query}"))
        assert body["status"] == "success", body
        return body["data"]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while True:
            assert self.proc.poll() is None, f"prometheus exited:\n{self.log.read_text()}"
            try:
                scrape(f"{self.url}/-/ready")
                return
            except OSError:
                assert time.monotonic() < deadline, f"prometheus not ready:\n{self.log.read_text()}"
                time.sleep(0.2)

    def alerts(self, name: str, state: str = "firing") -> list[dict[str, Any]]:
        return [
            a for a in self.get("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == name and a["state"] == state
        ]

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def prometheus(request: pytest.FixtureRequest, obs: ObsStack, tmp_path: Path) -> Iterator[Prometheus]:
    binary = require_system_tool(request, "prometheus", install=INSTALL_PROMETHEUS)
    server = Prometheus(binary, tmp_path, obs.metrics)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _submit(channel: grpc.Channel, key: str, count: int, tag: str) -> None:
    """``count`` orders of the demo partner ``key`` straight to the orders service."""
    stub = orders_pb2_grpc.OrdersServiceStub(channel)
    due = Timestamp()
    due.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    for n in range(count):
        request = orders_pb2.SubmitOrderRequest(
            partner_reference=f"{tag}-{n}",
            priority=common_pb2.PRIORITY_NORMAL,
            due_time=due,
            lines=[LINE],
            request_id=f"{tag}-{n}",
        )
        stub.SubmitOrder(request, metadata=(("x-api-key", key),), timeout=10)


@pytest.mark.system
def test_the_consumer_lag_alert_fires_when_a_worker_is_stopped(obs: ObsStack, prometheus: Prometheus) -> None:
    stack = obs.stack
    deadline = time.monotonic() + READY_S
    while True:  # every process scraped
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        if len(targets) == len(obs.metrics) and all(t["health"] == "up" for t in targets):
            break
        assert time.monotonic() < deadline, f"targets not all up: {targets}"
        time.sleep(0.5)
    assert not prometheus.alerts(ALERT, "firing") and not prometheus.alerts(ALERT, "pending")

    worker = next(p.pid for p in stack.state().processes if p.name == STOPPED)
    keys = json.loads((stack.data_dir / PARTNERS_FILE).read_text())["partners"]
    key = keys[0]["api_key"]
    assert signal_pid(worker, signal.SIGSTOP)
    try:
        with grpc.insecure_channel(stack.address("orders")) as channel:
            deadline = time.monotonic() + FIRING_S
            batch = 0
            while not prometheus.alerts(ALERT):  # orders keep coming while production's worker is stopped
                assert time.monotonic() < deadline, (
                    f"{ALERT} did not fire within {FIRING_S:.0f} s; lag: "
                    f"{prometheus.get('/api/v1/query', query='mes:consumer_lag:max')}"
                )
                _submit(channel, key, 20 if batch < 8 else 5, f"obs-{batch}")
                batch += 1
                time.sleep(0.5)
        [firing] = [a for a in prometheus.alerts(ALERT) if a["labels"]["consumer"] == LAGGING["consumer"]]
        assert firing["labels"]["stream"] == LAGGING["stream"] and firing["labels"]["severity"] == "page"
        assert float(firing["value"]) > 100
        assert "falling further behind" in firing["annotations"]["summary"]
        # the lag was read from the orders worker (production's own is stopped): the producer watches
        series = prometheus.get(
            "/api/v1/query", query='mes_consumer_pending_messages{consumer="production-order-events"}'
        )["result"]
        assert "orders-worker" in {s["metric"]["process"] for s in series}

        assert signal_pid(worker, signal.SIGCONT)  # the worker catches up: the lag stops growing
        deadline = time.monotonic() + FIRING_S
        while prometheus.alerts(ALERT):
            assert time.monotonic() < deadline, f"{ALERT} still firing {FIRING_S:.0f} s after the worker resumed"
            time.sleep(0.5)
        assert stack.proc.poll() is None, stack.output  # mes up kept every process running
    finally:
        signal_pid(worker, signal.SIGCONT)
