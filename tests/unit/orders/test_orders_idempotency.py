"""Idempotency by request id: a repeat replays the original, another payload under the same
id fails ALREADY_EXISTS ``IDEMPOTENCY_KEY_REUSED`` (use cases on the fakes)."""

from __future__ import annotations

import pytest

from mes_kernel.errors import AlreadyExists
from services.orders.domain.events import OrderSubmitted
from services.orders.domain.order import OrderLine
from services.orders.domain.status import OrderStatus
from services.orders.service_layer.commands import CancelOrder
from tests.unit.orders.harness import ALLOYS, STAFF, STYLES, Orders, acting_for, partner, submit_order


async def test_the_same_request_returns_the_original_order_replayed() -> None:
    service = Orders()
    await service.seed("acme")
    first = await service.orders.submit(submit_order(partner("acme"), "r-1"))
    service.clock.tick()
    # The same order through the facade, naming the partner as parent.
    again = await service.orders.submit(submit_order(acting_for("acme"), "r-1", parent="partners/acme"))
    assert (first.replayed, again.replayed) == (False, True)
    assert again.order == first.order
    assert list(service.uows.state.orders) == [first.order.order_id]
    assert service.uows.events == [OrderSubmitted(first.order)]


async def test_the_same_request_id_with_another_payload_is_refused() -> None:
    service = Orders()
    await service.seed("acme")
    original = await service.submit(partner("acme"), "r-1")
    changed = submit_order(partner("acme"), "r-1", lines=(OrderLine(0, STYLES[0], ALLOYS[0], 2),))
    with pytest.raises(AlreadyExists) as raised:
        await service.orders.submit(changed)
    assert (raised.value.reason, raised.value.metadata) == ("IDEMPOTENCY_KEY_REUSED", {"request_id": "r-1"})
    assert list(service.uows.state.orders) == [original.order_id]
    assert len(service.uows.events) == 1


async def test_request_ids_are_scoped_per_partner() -> None:
    service = Orders()
    await service.seed("acme", "globex")
    acme = await service.orders.submit(submit_order(partner("acme"), "shared"))
    globex = await service.orders.submit(submit_order(STAFF, "shared", parent="partners/globex"))
    assert acme.order.order_id != globex.order.order_id and not globex.replayed
    assert len(service.uows.state.orders) == 2


async def test_a_repeated_cancel_replays_and_its_id_cannot_cancel_another_order() -> None:
    service = Orders()
    await service.seed("acme")
    order = await service.submit(partner("acme"), "r-1")
    other = await service.submit(partner("acme"), "r-2")
    cancel = CancelOrder(partner("acme"), order.name, "changed mind", "c-1", "fingerprint-1")
    first = await service.orders.cancel(cancel)
    again = await service.orders.cancel(cancel)
    assert first == again and first.status is OrderStatus.CANCELLED
    with pytest.raises(AlreadyExists) as raised:
        await service.orders.cancel(CancelOrder(partner("acme"), other.name, "", "c-1", "fingerprint-2"))
    assert raised.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert (await service.stored(other)).status is OrderStatus.SUBMITTED
    assert len(service.uows.events) == 4  # two submissions, one cancellation (status changed + cancelled)
