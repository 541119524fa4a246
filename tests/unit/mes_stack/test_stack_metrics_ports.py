"""`mes up` and the /metrics ports: the services' off unless set per service, replicas step like gRPC;
the facade's on a port of its own (18180), apart from its HTTP port."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mes_stack.plan import PlanError, PortClaim, StackPlan
from mes_stack.summary import render_summary
from tests.unit.mes_stack._plans import PG, plan


def test_metrics_are_off_even_with_a_shared_metrics_port() -> None:
    for spec in plan({"MES_METRICS_PORT": "9464", "METRICS_PORT": "9464"}).processes[1:]:
        assert spec.service is not None
        assert spec.env[f"MES_{spec.service.upper()}_METRICS_PORT"] == "0"  # the prefixed value wins in the service
        assert len(spec.claims) == 1


def test_a_per_service_metrics_port_is_claimed_and_stepped_for_replicas() -> None:
    p = plan({"DATABASE_URL": PG, "MES_ORDERS_METRICS_PORT": "19464"}, replicas=2)
    specs = {s.name: s for s in p.processes}
    assert specs["orders-1"].env["MES_ORDERS_METRICS_PORT"] == "19464"
    assert specs["orders-2"].env["MES_ORDERS_METRICS_PORT"] == "19474"
    assert [c.port for c in specs["orders-2"].claims] == [50161, 19474]
    assert specs["inventory-1"].env["MES_INVENTORY_METRICS_PORT"] == "0"
    # a worker's metrics are as far from its API process's as its gRPC port (+ 1000 by default)
    assert specs["orders-worker-1"].env["MES_ORDERS_METRICS_PORT"] == "20464"
    assert [c.port for c in specs["orders-worker-2"].claims] == [51161, 20474]


def test_bad_or_clashing_metrics_ports_are_refused() -> None:
    with pytest.raises(PlanError, match="METRICS_PORT"):
        plan({"MES_ORDERS_METRICS_PORT": "soon"})
    with pytest.raises(PlanError, match="planned twice"):
        plan({"MES_ORDERS_METRICS_PORT": "50152"})  # the inventory gRPC port


def test_a_metrics_port_derived_beyond_65535_is_refused_by_name() -> None:
    # a valid base, but the worker's metrics port is 1000 above it: refused with the setting's name,
    # not a traceback from the port check when the stack starts
    with pytest.raises(PlanError, match=r"orders-worker metrics port would be 65990, outside"):
        plan({"MES_ORDERS_METRICS_PORT": "64990"})
    with pytest.raises(PlanError, match=r"outside 1\.\.65535: lower MES_ORDERS_METRICS_PORT"):
        plan({"MES_ORDERS_METRICS_PORT": "65000"})
    with pytest.raises(PlanError, match=r"outside 1\.\.65535: lower MES_ORDERS_GRPC_PORT.*REPLICA_PORT_STEP"):
        plan({"DATABASE_URL": PG, "MES_ORDERS_GRPC_PORT": "65530"}, replicas=2)


# The facade: /metrics on a port of its own by default (its HTTP port is the one partners call).


def facade_plan(env: Mapping[str, str] | None = None, **kwargs: object) -> StackPlan:
    return plan(env, facade=True, **kwargs)


def test_the_facade_metrics_port_is_claimed_passed_and_printed() -> None:
    facade = facade_plan().processes[-1]
    assert facade.role == "facade"
    assert facade.env["MES_FACADE_METRICS_PORT"] == "18180" and facade.env["MES_FACADE_METRICS_HOST"] == "127.0.0.1"
    assert [(c.port, c.env_var) for c in facade.claims] == [
        (8180, "MES_FACADE_PORT"),
        (18180, "MES_FACADE_METRICS_PORT"),
    ]
    assert facade.metrics_url == "http://127.0.0.1:18180/metrics"
    summary = render_summary(facade_plan(), [], data_dir=Path("/data"), partner_keys={})
    assert "  facade  http://127.0.0.1:18180/metrics" in summary.splitlines()


def test_the_facade_metrics_port_moves_with_the_stack_host_and_can_be_off() -> None:
    moved = facade_plan({"MES_FACADE_METRICS_PORT": "41009", "MES_STACK_HOST": "0.0.0.0"}).processes[-1]
    assert moved.env["MES_FACADE_METRICS_PORT"] == "41009" and moved.env["MES_FACADE_METRICS_HOST"] == "0.0.0.0"
    assert moved.claims[1] == PortClaim("0.0.0.0", 41009, "MES_FACADE_METRICS_PORT", "GraphQL facade metrics port")
    off = facade_plan({"MES_FACADE_METRICS_PORT": "0"})
    facade = off.processes[-1]
    assert facade.env["MES_FACADE_METRICS_PORT"] == "0" and len(facade.claims) == 1 and facade.metrics_url is None
    assert "Prometheus metrics" not in render_summary(off, [], data_dir=Path("/data"), partner_keys={})


def test_the_facade_metrics_port_clashing_with_another_is_refused() -> None:
    with pytest.raises(PlanError, match=r"GraphQL facade metrics port \(MES_FACADE_METRICS_PORT\)"):
        facade_plan({"MES_FACADE_METRICS_PORT": "8180"})
    with pytest.raises(PlanError, match="planned twice"):
        facade_plan({"MES_FACADE_METRICS_PORT": "19464", "MES_ORDERS_METRICS_PORT": "19464"})


def test_metrics_of_the_services_and_of_each_replica_are_printed_apart() -> None:
    p = facade_plan({"DATABASE_URL": PG, "MES_ORDERS_METRICS_PORT": "19464"}, replicas=2)
    lines = render_summary(p, [], data_dir=Path("/data"), partner_keys={}).splitlines()
    urls = [line.split()[1] for line in lines[lines.index("Prometheus metrics (each on a port of its own):") + 1 :][:5]]
    assert urls == [
        "http://127.0.0.1:19464/metrics",  # orders-1
        "http://127.0.0.1:19474/metrics",  # orders-2
        "http://127.0.0.1:20464/metrics",  # orders-worker-1
        "http://127.0.0.1:20474/metrics",  # orders-worker-2
        "http://127.0.0.1:18180/metrics",  # facade
    ]
