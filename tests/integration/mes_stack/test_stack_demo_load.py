"""``mes up --demo``'s loader against the three services started in process on SQLite: the first
run creates every definition, a second run creates nothing and keeps the partners' keys, and the
demo operators sign in with the passwords `mes up` prints."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from mes.production.v1 import production_pb2, production_pb2_grpc
from mes_platform.config import DEFAULT_DEV_TOKEN
from mes_stack import demo_data as d
from mes_stack.demo import DemoReport, DemoTargets, load_demo_data
from services.inventory.bootstrap import SPEC as INVENTORY
from services.orders.bootstrap import SPEC as ORDERS
from services.production.bootstrap import SPEC as PRODUCTION
from tests._infra.ports import LOOPBACK
from tests._infra.services import ServiceUnderTest, start_service_under_test

ENV = {"MES_AUTH_TOKENS": f"{DEFAULT_DEV_TOKEN}=service:demo", "MES_PAGE_TOKEN_SECRET": "test-secret"}


async def _load_twice(tmp_path: Path) -> tuple[DemoReport, DemoReport, list[str]]:
    """Both reports, and who signed in with the demo passwords after the second load."""
    async with AsyncExitStack() as stack:
        ports = {}
        for spec in (ORDERS, INVENTORY, PRODUCTION):
            settings = ServiceUnderTest(spec, stub=lambda channel: None, env=ENV).settings(
                f"sqlite+aiosqlite:///{tmp_path / spec.name}.db", tmp_path
            )
            ports[spec.name] = (await stack.enter_async_context(start_service_under_test(spec, settings))).port
        targets = DemoTargets(**{name: f"{LOOPBACK}:{port}" for name, port in ports.items()})
        first = await load_demo_data(targets, token=DEFAULT_DEV_TOKEN, data_dir=tmp_path)
        second = await load_demo_data(targets, token=DEFAULT_DEV_TOKEN, data_dir=tmp_path)
        signed_in = []
        async with grpc.aio.insecure_channel(targets.production) as channel:
            stub = production_pb2_grpc.ProductionServiceStub(channel)
            for op in d.OPERATORS:
                request = production_pb2.SignInRequest(operator_code=op.code, password=op.password)
                reply = await stub.SignIn(request, metadata=(("authorization", f"Bearer {DEFAULT_DEV_TOKEN}"),))
                signed_in.append(reply.operator.code)
    return first, second, signed_in


async def test_the_demo_data_loads_once(tmp_path: Path) -> None:
    first, second, signed_in = await _load_twice(tmp_path)
    defined = {
        "alloys": len(d.ALLOYS),
        "lots": len(d.METAL_LOTS) + len(d.STONE_LOTS),
        "work centers": len(d.WORK_CENTERS),
        "shift calendars": len(d.CALENDARS),
        "operators": len(d.OPERATORS),
        "styles": len(d.STYLES),
        "partners": len(d.PARTNERS),
    }
    assert first.counts == {kind: (total, total) for kind, total in defined.items()}
    assert second.counts == {kind: (0, total) for kind, total in defined.items()}
    assert set(first.partner_keys) == {p.partner_id for p in d.PARTNERS}
    assert second.partner_keys == first.partner_keys and second.rotated == []
    assert signed_in == [op.code for op in d.OPERATORS]  # the demo passwords printed by `mes up`
    assert {op.password for op in d.OPERATORS} == {d.DEMO_OPERATOR_PASSWORD, d.DEMO_SUPERVISOR_PASSWORD}
