"""One contract for the repositories and the unit of work of the orders service, run against
the in-memory fakes of the unit tests AND the SQL adapters on SQLite and on PostgreSQL: the
fakes may stand in for the database only while they behave the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mes_kernel.errors import AlreadyExists, Conflict
from mes_kernel.uow import WriteConflict
from services.orders.adapters.unit_of_work import OrdersUnitOfWork
from services.orders.bootstrap import SPEC
from services.orders.domain.catalogue import CatalogueItem, CatalogueKind
from services.orders.domain.order import Order, OrderLine, Priority
from services.orders.domain.partner import Partner, PartnerTier
from services.orders.domain.status import OrderStatus
from services.orders.entrypoints.codec.messages import encode_event
from services.orders.service_layer.ports import OrderFilter
from tests._infra.contract import RepositoryContract, transaction
from tests.unit.orders.fakes import FakeUnitsOfWork

S = OrderStatus
T0 = datetime(2030, 1, 1, tzinfo=UTC)
STYLE, ALLOY = CatalogueKind.STYLE, CatalogueKind.ALLOY


CONTRACT = RepositoryContract(SPEC, OrdersUnitOfWork, encode_event, FakeUnitsOfWork)
uows = CONTRACT.uows_fixture()


def new_order(
    order_id: str, partner_id: str = "acme", *, created: datetime = T0, due: timedelta = timedelta(days=7)
) -> Order:
    lines = [OrderLine(1, "RNG-1", "AU750Y", 2, "52", "Forever"), OrderLine(2, "PND-1", "AG925", 1)]
    return Order.submit(
        order_id=order_id,
        partner_id=partner_id,
        partner_reference=f"PO-{order_id}",
        priority=Priority.HIGH,
        due_time=created + due,
        lines=lines,
        cause="request:r-1",
        now=created,
    )


async def seed_partners(uows: Any, *partner_ids: str) -> dict[str, Partner]:
    made = {p: Partner.create(p, p.title(), PartnerTier.STANDARD, T0)[0] for p in partner_ids}
    async with uows.write() as uow:
        for partner in made.values():
            await uow.partners.add(partner)
    return made


async def add_orders(uows: Any, *orders: Order) -> None:
    async with uows.write() as uow:
        for order in orders:
            await uow.orders.add(order)


# -- orders -----------------------------------------------------------------------------


async def test_an_order_reads_back_as_it_was_added_and_only_in_its_scope(uows: Any) -> None:
    await seed_partners(uows, "acme", "globex")
    order = new_order("o-1")
    await add_orders(uows, order, new_order("o-2", "globex"))
    async with uows.read() as uow:
        assert await uow.orders.get("o-1", partner_id=None) == order
        assert await uow.orders.get("o-1", partner_id="acme") == order
        assert await uow.orders.get("o-1", partner_id="globex") is None
        assert await uow.orders.get("nope", partner_id=None) is None
        assert set(await uow.orders.get_many(["o-1", "o-2", "nope"], partner_id=None)) == {"o-1", "o-2"}
        assert set(await uow.orders.get_many(["o-1", "o-2"], partner_id="globex")) == {"o-2"}
        assert await uow.orders.get_many([], partner_id=None) == {}
        [submitted] = await uow.orders.status_changes("o-1", after_version=0, limit=10)
    assert (submitted.version, submitted.from_status, submitted.to_status) == (1, None, S.SUBMITTED)
    assert submitted.change_time == T0 and submitted.change_time.tzinfo is not None


async def test_saving_checks_the_version_and_appends_the_history(uows: Any) -> None:
    await seed_partners(uows, "acme")
    await add_orders(uows, new_order("o-1"))
    async with uows.write() as uow:
        order = await uow.orders.lock("o-1")  # the whole order, lines included, in one read
        assert order == await uow.orders.get("o-1", partner_id=None)
        assert await uow.orders.lock("nope") is None
        order.transition(S.ACCEPTED, reason="materials reserved", cause="e1", now=T0 + timedelta(minutes=1))
        order.transition(S.IN_PRODUCTION, reason="released", cause="e2", now=T0 + timedelta(minutes=2))
        await uow.orders.save(order, expected_version=1)
    stale = replace(order, status=S.CANCELLED, version=4, changes=[])
    with pytest.raises(Conflict):
        async with uows.write() as uow:
            await uow.orders.save(stale, expected_version=1)
    async with uows.read() as uow:
        stored = await uow.orders.get("o-1", partner_id=None)
        history = await uow.orders.status_changes("o-1", after_version=0, limit=10)
        page = await uow.orders.status_changes("o-1", after_version=1, limit=1)
    assert stored is not None and (stored.status, stored.version) == (S.IN_PRODUCTION, 3)
    assert [(c.version, c.to_status, c.cause) for c in history] == [
        (1, S.SUBMITTED, "request:r-1"),
        (2, S.ACCEPTED, "e1"),
        (3, S.IN_PRODUCTION, "e2"),
    ]
    assert [c.version for c in page] == [2]


async def test_adding_an_order_id_twice_is_a_write_conflict(uows: Any) -> None:
    await seed_partners(uows, "acme")
    await add_orders(uows, new_order("o-1"))
    with pytest.raises(WriteConflict):
        await add_orders(uows, new_order("o-1"))


def _lines(order: Any) -> list[tuple[Any, ...]]:
    """An order's lines as a read returns them: a domain order's and a record's alike."""
    return [(x.line_number, x.style_code, x.alloy_code, x.size, x.engraving, x.quantity) for x in order.lines]


async def test_find_pages_newest_first_with_filters(uows: Any) -> None:
    await seed_partners(uows, "acme", "globex")
    same_time = T0 + timedelta(hours=1)
    orders = [
        new_order("o-1", created=T0),
        new_order("o-2", created=same_time),
        new_order("o-3", created=same_time),
        new_order("o-4", created=T0 + timedelta(hours=2), due=timedelta(hours=-1)),
        new_order("o-5", "globex", created=T0 + timedelta(hours=3)),
    ]
    await add_orders(uows, *orders)
    now = T0 + timedelta(days=1)
    everyone = OrderFilter(None)
    async with uows.read() as uow:
        every = await uow.orders.find(everyone, now=now, after=None, limit=10)
        first = await uow.orders.find(OrderFilter("acme"), now=now, after=None, limit=2)
        last = first[-1]
        rest = await uow.orders.find(OrderFilter("acme"), now=now, after=(last.create_time, last.order_id), limit=10)
        late = await uow.orders.find(OrderFilter(None, late_only=True), now=now, after=None, limit=10)
        submitted = await uow.orders.find(OrderFilter("globex", [S.SUBMITTED]), now=now, after=None, limit=10)
        none = await uow.orders.find(OrderFilter(None, [S.SHIPPED]), now=now, after=None, limit=10)
    assert [o.order_id for o in every] == ["o-5", "o-4", "o-3", "o-2", "o-1"]
    assert [o.order_id for o in first] == ["o-4", "o-3"]
    assert [o.order_id for o in rest] == ["o-2", "o-1"]
    assert [o.order_id for o in late] == ["o-4"]
    assert [o.order_id for o in submitted] == ["o-5"] and not none
    assert _lines(every[0]) == _lines(orders[4])


async def test_counts_per_status_and_late(uows: Any) -> None:
    await seed_partners(uows, "acme", "globex")
    overdue = new_order("o-2", due=timedelta(hours=1))
    cancelled = new_order("o-3", due=timedelta(hours=1))
    await add_orders(uows, new_order("o-1"), overdue, cancelled, new_order("o-4", "globex"))
    async with uows.write() as uow:
        order = await uow.orders.get("o-3", partner_id=None, for_update=True)
        order.transition(S.CANCELLED, now=T0)
        await uow.orders.save(order, expected_version=1)
    async with uows.read() as uow:
        acme = await uow.orders.count("acme", now=T0 + timedelta(hours=2))
        everyone = await uow.orders.count(None, now=T0)
    assert acme == ({S.SUBMITTED: 2, S.CANCELLED: 1}, 1)
    assert everyone == ({S.SUBMITTED: 3, S.CANCELLED: 1}, 0)


# -- partners ---------------------------------------------------------------------------


async def test_partners_read_back_and_page_by_id(uows: Any) -> None:
    made = await seed_partners(uows, "globex", "acme", "initech")
    with pytest.raises(AlreadyExists):
        await seed_partners(uows, "acme")
    async with uows.read() as uow:
        acme = await uow.partners.get("acme")
        first = await uow.partners.find(after=None, limit=2)
        rest = await uow.partners.find(after=first[-1].partner_id, limit=2)
        assert await uow.partners.exists("acme") and not await uow.partners.exists("nobody")
        assert await uow.partners.get("nobody") is None
    assert acme is not None and (acme.display_name, acme.version, acme.api_keys) == ("Acme", 1, made["acme"].api_keys)
    assert acme.update_time == acme.create_time == T0
    assert [p.partner_id for p in first + rest] == ["acme", "globex", "initech"]


async def test_key_changes_are_versioned_and_only_active_keys_resolve(uows: Any) -> None:
    await seed_partners(uows, "acme")
    async with uows.read() as uow:
        partner = await uow.partners.get("acme")
        first_hash = partner.api_keys[0].key_hash
        assert await uow.partners.partner_for_key(first_hash) == "acme"
    async with uows.write() as uow:
        issued, revoked = partner.rotate_key(T0 + timedelta(hours=1))
        await uow.partners.save(partner, expected_version=1, added=[issued.record], revoked=revoked)
    with pytest.raises(Conflict):
        async with uows.write() as uow:
            await uow.partners.save(replace(partner, tier=PartnerTier.PLUS), expected_version=1)
    async with uows.read() as uow:
        stored = await uow.partners.get("acme")
        assert await uow.partners.partner_for_key(first_hash) is None
        assert await uow.partners.partner_for_key(issued.record.key_hash) == "acme"
        assert await uow.partners.partner_for_key("0" * 64) is None
    assert stored is not None and (stored.version, stored.tier) == (2, PartnerTier.STANDARD)
    assert [k.revoke_time for k in stored.api_keys] == [T0 + timedelta(hours=1), None]


# -- catalogue copy ---------------------------------------------------------------------


async def test_catalogue_copy_moves_forward_only_and_pages_by_kind_and_code(uows: Any) -> None:
    items = [
        CatalogueItem(STYLE, "RNG-1", "Ring", True, 1),
        CatalogueItem(STYLE, "OLD-1", "Old", False, 1),
        CatalogueItem(ALLOY, "AU750Y", "18k", True, 1),
        CatalogueItem(ALLOY, "AG925", "Silver", True, 1),
    ]
    async with uows.write() as uow:
        assert all([await uow.catalogue.upsert_if_newer(item) for item in items])
        assert not await uow.catalogue.upsert_if_newer(CatalogueItem(STYLE, "RNG-1", "Stale", False, 1))
        assert await uow.catalogue.upsert_if_newer(CatalogueItem(STYLE, "RNG-1", "Ring v2", True, 2))
    async with uows.read() as uow:
        assert await uow.catalogue.active_codes(STYLE, {"RNG-1", "OLD-1", "NOPE"}) == {"RNG-1"}
        assert await uow.catalogue.active_codes(ALLOY, set()) == set()
        ring = await uow.catalogue.get(STYLE, "RNG-1")
        first = await uow.catalogue.find(None, after=None, limit=3)
        rest = await uow.catalogue.find(None, after=(first[-1].kind.name, first[-1].code), limit=3)
        styles = await uow.catalogue.find(STYLE, after=None, limit=10)
    assert ring == CatalogueItem(STYLE, "RNG-1", "Ring v2", True, 2)
    assert [(i.kind, i.code) for i in first + rest] == [
        (ALLOY, "AG925"),
        (ALLOY, "AU750Y"),
        (STYLE, "OLD-1"),
        (STYLE, "RNG-1"),
    ]
    assert [i.code for i in styles] == ["OLD-1", "RNG-1"]


# -- the unit of work -------------------------------------------------------------------


async def test_a_failed_unit_of_work_leaves_nothing(uows: Any) -> None:
    await seed_partners(uows, "acme")
    with pytest.raises(RuntimeError):
        async with uows.write() as uow:
            await uow.orders.add(new_order("o-1"))
            raise RuntimeError("the use case fails after writing")
    calls = []

    async def flaky(uow: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Conflict("someone else won")
        await uow.orders.add(new_order("o-2"))
        return "done"

    assert await uows.transact(flaky) == "done" and len(calls) == 2
    async with uows.read() as uow:
        assert await uow.orders.get("o-1", partner_id=None) is None
        assert await uow.orders.get("o-2", partner_id=None) is not None


async def test_idempotent_replays_the_same_request_and_refuses_another(uows: Any) -> None:
    await seed_partners(uows, "acme")

    async def create(uow: Any) -> tuple[str, str]:
        order = new_order(f"o-{len(created) + 1}")
        created.append(order.order_id)
        await uow.orders.add(order)
        return order.name, order.order_id

    async def load(uow: Any, name: str) -> str:
        return name.removeprefix("orders/")

    created: list[str] = []
    run = {"scope": "partner:acme:SubmitOrder", "create": create, "load": load}
    assert await uows.idempotent(request_id="r-1", fingerprint="f1", **run) == ("o-1", False)
    assert await uows.idempotent(request_id="r-1", fingerprint="f1", **run) == ("o-1", True)
    with pytest.raises(AlreadyExists) as raised:
        await uows.idempotent(request_id="r-1", fingerprint="f2", **run)
    assert raised.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert await uows.idempotent(request_id="", fingerprint="f1", **run) == ("o-2", False)
    assert created == ["o-1", "o-2"]


async def test_borrowed_units_of_work_join_the_owners_transaction(uows: Any) -> None:
    await seed_partners(uows, "acme")
    async with uows.write() as owner:
        borrowed = uows.borrow(transaction(owner), causation_id="evt-1")
        async with borrowed.write() as uow:
            await uow.orders.add(new_order("o-1"))
        with pytest.raises(RuntimeError):
            async with borrowed.write() as uow:  # a savepoint: undone alone
                await uow.orders.add(new_order("o-2"))
                raise RuntimeError("this step fails")
        async with borrowed.read() as uow:
            assert await uow.orders.get("o-1", partner_id=None) is not None
    async with uows.read() as uow:
        assert await uow.orders.get("o-1", partner_id=None) is not None
        assert await uow.orders.get("o-2", partner_id=None) is None
