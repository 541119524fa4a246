"""`mes up` and the services' /metrics ports: off unless set per service; replicas step like gRPC."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mes_stack.options import StackOptions
from mes_stack.plan import PlanError, StackPlan, build_plan

PG = "postgresql://postgres@127.0.0.1:5432/mes"


def plan(env: Mapping[str, str] | None = None, **kwargs: object) -> StackPlan:
    env = dict(env or {})
    options = StackOptions.resolve(env, data_dir="/data", **kwargs)  # type: ignore[arg-type]
    return build_plan(
        options, env, python="/venv/bin/python", nats_binary="/venv/bin/nats-server", facade_available=False
    )


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
