"""``mes up --demo``'s loader against the three services started in process on SQLite: the first
run creates every definition, a second run creates nothing and keeps the partners' keys."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from mes_platform.config import DEFAULT_DEV_TOKEN
from mes_stack import demo_data as d
from mes_stack.demo import DemoReport, DemoTargets, load_demo_data
from services.inventory.bootstrap import SPEC as INVENTORY
from services.orders.bootstrap import SPEC as ORDERS
from services.production.bootstrap import SPEC as PRODUCTION
from tests._infra.ports import LOOPBACK
from tests._infra.services import ServiceUnderTest, start_service_under_test

ENV = {"MES_AUTH_TOKENS": f"{DEFAULT_DEV_TOKEN}=service:demo", "MES_PAGE_TOKEN_SECRET": "test-secret"}


async def _load_twice(tmp_path: Path) -> tuple[DemoReport, DemoReport]:
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
    return first, second


async def test_the_demo_data_loads_once(tmp_path: Path) -> None:
    first, second = await _load_twice(tmp_path)
    defined = {
        "alloys": len(d.ALLOYS),
        "lots": len(d.METAL_LOTS) + len(d.STONE_LOTS),
        "work centers": len(d.WORK_CENTERS),
        "operators": len(d.OPERATORS),
        "styles": len(d.STYLES),
        "partners": len(d.PARTNERS),
    }
    assert first.counts == {kind: (total, total) for kind, total in defined.items()}
    assert second.counts == {kind: (0, total) for kind, total in defined.items()}
    assert set(first.partner_keys) == {p.partner_id for p in d.PARTNERS}
    assert second.partner_keys == first.partner_keys and second.rotated == []
