"""`mes up` end to end: real nats-server and service processes on free loopback ports.

One stack per test (each takes a few seconds to start): the happy path (health, demo
data, mesctl, idempotent demo reload, clean Ctrl-C), a crashing child, and a taken port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from mes.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from mes.orders.v1 import orders_pb2, orders_pb2_grpc
from mes.production.v1 import production_pb2, production_pb2_grpc
from mes_stack import demo_data
from mes_stack.partner_keys import PARTNERS_FILE
from mes_stack.plan import FULL_SERVICE_NAMES
from tests.e2e._stack import RunningStack, run_module, stack_env, wait_gone

TOKEN = (("authorization", "Bearer mes-dev-token"),)
ROOT = Path(__file__).resolve().parents[2]
HAVE_CLI = (ROOT / "clients" / "cli" / "__main__.py").is_file()
HAVE_FACADE = (ROOT / "graphql_facade" / "__main__.py").is_file()


def _health(channel: grpc.Channel, service: str) -> int:
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    response: health_pb2.HealthCheckResponse = check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(response.status)


def _check_services_and_demo_data(stack: RunningStack) -> None:
    for service, full_name in FULL_SERVICE_NAMES.items():
        with grpc.insecure_channel(stack.address(service)) as channel:
            for name in ("", full_name):
                assert _health(channel, name) == health_pb2.HealthCheckResponse.SERVING, (service, name)
    with grpc.insecure_channel(stack.address("inventory")) as channel:
        inventory = inventory_pb2_grpc.InventoryServiceStub(channel)
        alloys = inventory.ListAlloys(inventory_pb2.ListAlloysRequest(page_size=100), metadata=TOKEN, timeout=10)
        assert {a.code for a in alloys.alloys} >= {a.code for a in demo_data.ALLOYS}
        lots = inventory.ListLots(inventory_pb2.ListLotsRequest(page_size=100), metadata=TOKEN, timeout=10)
        assert len(lots.lots) == len(demo_data.METAL_LOTS) + len(demo_data.STONE_LOTS)
    with grpc.insecure_channel(stack.address("production")) as channel:
        production = production_pb2_grpc.ProductionServiceStub(channel)
        styles = production.ListStyles(production_pb2.ListStylesRequest(page_size=100), metadata=TOKEN, timeout=10)
        assert {s.sku for s in styles.styles} == {s.sku for s in demo_data.STYLES}
    with grpc.insecure_channel(stack.address("orders")) as channel:
        orders = orders_pb2_grpc.OrdersServiceStub(channel)
        partners = orders.ListPartners(orders_pb2.ListPartnersRequest(page_size=100), metadata=TOKEN, timeout=10)
        assert {p.partner_id for p in partners.partners} == {p.partner_id for p in demo_data.PARTNERS}


def _check_partner_keys(stack: RunningStack) -> dict[str, str]:
    path = stack.data_dir / PARTNERS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = {p["partner_id"]: p["api_key"] for p in json.loads(path.read_text())["partners"]}
    assert set(keys) == {"aurora-jewels", "northwind-gems"}
    for key in keys.values():
        assert key and key in stack.output  # printed in the summary
    return keys


def _mesctl(stack: RunningStack, *args: str) -> Any:
    """Run mesctl with --output json and parse what it prints."""
    result = stack.run(sys.executable, "-m", "clients.cli", "--output", "json", *args)
    assert result.returncode == 0, f"mesctl {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def _mesctl_json(stack: RunningStack, *args: str) -> list[dict[str, Any]]:
    """List commands print a JSON array of messages."""
    data = _mesctl(stack, *args)
    assert isinstance(data, list), data
    return data


def _partner_order_reaches_production(stack: RunningStack, api_key: str) -> None:
    """The saga over the stack's NATS: a partner's order is reserved and released to production."""
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    submit = f"orders submit --reference E2E-1 --due {due} --line RNG-SOL-001:AU750Y:1:52 --request-id e2e-1"
    submitted = _mesctl(stack, "--api-key", api_key, *submit.split())
    order_id = submitted["order"]["order_id"]
    deadline = time.monotonic() + 20
    status = submitted["order"]["status"]
    while status not in ("ORDER_STATUS_IN_PRODUCTION", "ORDER_STATUS_ON_HOLD", "ORDER_STATUS_REJECTED"):
        assert time.monotonic() < deadline, f"order {order_id} still {status}\n{stack.output}"
        time.sleep(0.3)
        status = _mesctl(stack, "--api-key", api_key, "orders", "get", order_id)["status"]
    assert status == "ORDER_STATUS_IN_PRODUCTION"


def test_mes_up_serves_demo_data_and_stops_cleanly_on_ctrl_c(run_stack: Callable[..., RunningStack]) -> None:
    stack = run_stack()
    state = stack.state()
    names = [p.name for p in state.processes]
    workers = [f"{service}-worker" for service in FULL_SERVICE_NAMES]
    assert names == ["nats", *FULL_SERVICE_NAMES, *workers, *(["facade"] if HAVE_FACADE else [])]
    for info in state.processes:
        if info.name in workers:  # each worker answers health on its own port
            with grpc.insecure_channel(info.address) as channel:
                assert _health(channel, "") == health_pb2.HealthCheckResponse.SERVING, info.name
    pids = stack.child_pids()
    assert all(pid > 0 for pid in pids) and stack.proc.pid not in pids
    for info in state.processes:
        assert Path(info.log).is_file()
        assert f"{info.pid}" in stack.output
    assert (stack.data_dir / "nats" / "jetstream").is_dir()
    for service in FULL_SERVICE_NAMES:
        assert (stack.data_dir / f"{service}.db").is_file()

    _check_services_and_demo_data(stack)
    if HAVE_FACADE:
        port = stack.env["MES_FACADE_PORT"]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
        # Prometheus metrics on the facade's own metrics port (printed in the summary), 404 on the public port
        metrics_url = f"http://127.0.0.1:{stack.env['MES_FACADE_METRICS_PORT']}/metrics"
        assert metrics_url in stack.output
        with opener.open(metrics_url, timeout=10) as response:
            assert response.status == 200 and b"mes_facade_inflight_requests" in response.read()
        with pytest.raises(urllib.error.HTTPError) as public:
            opener.open(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert public.value.code == 404
        public.value.close()
    keys = _check_partner_keys(stack)

    # Loading the demo data again changes nothing and keeps the keys.
    again = stack.run(sys.executable, "-m", "mes_stack", "demo-data", "--data-dir", str(stack.data_dir))
    assert again.returncode == 0, again.stderr
    assert all(" 0 new/" in part for part in again.stdout.splitlines()[0].split(", ")), again.stdout
    assert _check_partner_keys(stack) == keys

    if HAVE_CLI:
        partners = _mesctl_json(stack, "partners", "list")
        assert {p["partner_id"] for p in partners} == {"aurora-jewels", "northwind-gems"}
        balances = {b["material_code"]: b for b in _mesctl_json(stack, "inventory", "balances")}
        assert set(balances) >= {a.code for a in demo_data.ALLOYS} | set(demo_data.STONES)
        assert int(str(balances["AU750Y"]["on_hand_mg"])) == 3_500_000  # two demo lots
        styles = _mesctl_json(stack, "production", "styles")
        assert {s["sku"] for s in styles} == {s.sku for s in demo_data.STYLES}
        _partner_order_reaches_production(stack, keys["aurora-jewels"])

    # Keys are shown once: without the file, loading the demo data again rotates them.
    (stack.data_dir / PARTNERS_FILE).unlink()
    rotated = stack.run(sys.executable, "-m", "mes_stack", "demo-data", "--data-dir", str(stack.data_dir))
    assert rotated.returncode == 0, rotated.stderr
    new_keys = {
        p["partner_id"]: p["api_key"] for p in json.loads((stack.data_dir / PARTNERS_FILE).read_text())["partners"]
    }
    assert set(new_keys) == set(keys) and not set(new_keys.values()) & set(keys.values())
    assert stat.S_IMODE((stack.data_dir / PARTNERS_FILE).stat().st_mode) == 0o600

    assert stack.interrupt() == 0, stack.output
    assert wait_gone(pids) == [], f"children still running after mes exited\n{stack.output}"
    assert not (stack.data_dir / "stack.json").exists()
    assert stack.output.splitlines()[-1] == "stopped"


def test_a_child_that_dies_stops_the_stack_with_its_log(run_stack: Callable[..., RunningStack]) -> None:
    stack = run_stack("--no-demo", "--no-facade")
    state = stack.state()
    pids = stack.child_pids()
    victim = next(p for p in state.processes if p.name == "inventory")
    os.kill(victim.pid, signal.SIGKILL)
    assert stack.wait_exit(45) == 1
    assert "mes: inventory (pid" in stack.output and "exited unexpectedly with code -9" in stack.output
    assert f"last lines of {victim.log}" in stack.output
    assert wait_gone(pids) == []
    assert not (stack.data_dir / PARTNERS_FILE).exists()  # --no-demo


def test_a_taken_port_fails_fast_naming_the_variable(run_stack: Callable[..., RunningStack]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env = stack_env()
        env["MES_PRODUCTION_GRPC_PORT"] = str(squatter.getsockname()[1])
        stack = run_stack(env=env, wait_ready=False)
        assert stack.wait_exit(30) == 1
    assert "set MES_PRODUCTION_GRPC_PORT to a free port" in stack.output
    assert "started" not in stack.output  # nothing was started


@pytest.mark.parametrize("argv", [["up", "--replicas", "2"], ["up", "--database-url", "sqlite:///x.db"]])
def test_bad_options_are_usage_errors(argv: list[str], tmp_path: Path) -> None:
    result = run_module("mes_stack", *argv, "--data-dir", str(tmp_path), env=stack_env(), timeout=30)
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr


def test_replicas_on_postgresql_each_serve_with_their_own_role(
    run_stack: Callable[..., RunningStack], make_pg_database: Callable[..., str]
) -> None:
    admin_url = make_pg_database(driver=None)
    stack = run_stack("--replicas", "2", "--no-demo", "--no-facade", "--database-url", admin_url)
    state = stack.state()
    names = [p.name for p in state.processes]
    apis = [f"{svc}-{i}" for svc in FULL_SERVICE_NAMES for i in (1, 2)]
    assert names == ["nats", *apis, *(f"{svc}-worker-{i}" for svc in FULL_SERVICE_NAMES for i in (1, 2))]
    for service, full_name in FULL_SERVICE_NAMES.items():
        assert len(state.addresses[service]) == 2
        for address in state.addresses[service]:
            with grpc.insecure_channel(address) as channel:
                assert _health(channel, full_name) == health_pb2.HealthCheckResponse.SERVING, address
    assert "postgresql://mes_orders@" in stack.output
    pids = stack.child_pids()
    assert stack.interrupt() == 0, stack.output
    assert wait_gone(pids) == []
