"""The floor's new subjects (an operation paused or resumed, a work center's state changed) are
for the operators' pages: no service of the saga subscribes to them, so none of its durable
consumers is ever delivered one (each is filtered to the subjects it handles)."""

from __future__ import annotations

from mes_contracts.events import OPERATION_PAUSED, OPERATION_RESUMED, WORK_CENTER_CHANGED
from mes_platform.messaging.runtime import ConsumerSpec
from services.inventory.entrypoints import consumers as inventory_consumers
from services.orders.entrypoints import consumers as orders_consumers
from services.production.entrypoints import consumers as production_consumers

FLOOR = {OPERATION_PAUSED.subject, OPERATION_RESUMED.subject, WORK_CENTER_CHANGED.subject}


def _specs() -> list[ConsumerSpec]:
    return [
        *inventory_consumers.consumer_specs(None, None, wake=print),  # type: ignore[arg-type]  # subjects only
        *orders_consumers.consumer_specs(None, None),  # type: ignore[arg-type]
        *production_consumers.consumer_specs(None, None),  # type: ignore[arg-type]
    ]


def test_no_consumer_of_the_saga_subscribes_to_the_floor_subjects() -> None:
    specs = _specs()
    assert {spec.stream.name for spec in specs} == {"ORDERS", "INVENTORY", "PRODUCTION"}
    for spec in specs:
        assert not FLOOR & set(spec.subjects), spec.purpose
        assert set(spec.handlers_by_subject()) == set(spec.subjects)  # the filter is exactly what it handles
