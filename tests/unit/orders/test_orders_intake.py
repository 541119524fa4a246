"""Intake: validation of new orders and the catalogue check (pure), and the submission use
case on the fakes (every bad field at once, the catalogue copy, foreign or missing parents)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mes_kernel.errors import InvalidArgument, NotFound
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.events import OrderSubmitted
from services.orders.domain.intake import check_catalogue, validate_order
from services.orders.domain.order import OrderLine, Priority
from services.orders.domain.status import OrderStatus as S
from tests.unit.orders.harness import ALLOYS, STAFF, STYLES, Orders, acting_for, partner, submit_order

DUE = datetime(2030, 6, 1, tzinfo=UTC)


def validate(**overrides: object) -> tuple[Priority, datetime, list[OrderLine]]:
    args: dict[str, object] = {
        "partner_reference": "PO-1",
        "priority": 0,
        "due_time": DUE,
        "lines": [OrderLine(0, "RNG-1", "AU750Y", 1)],
        "request_id": "r-1",
        **overrides,
    }
    return validate_order(**args)  # type: ignore[arg-type]


def fields_of(**overrides: object) -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        validate(**overrides)
    return [v.field for v in raised.value.violations]


def test_defaults_and_numbering() -> None:
    priority, due, lines = validate(lines=[OrderLine(0, "A", "B", 1), OrderLine(2, "C", "D", 10_000, "52", "Ü & ♥")])
    assert priority is Priority.NORMAL and due == DUE
    assert [line.line_number for line in lines] == [1, 2]
    assert validate(priority=4)[0] is Priority.RUSH


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"lines": [OrderLine(0, "A", "B", 0)]}, ["lines[0].quantity"]),
        ({"lines": [OrderLine(0, "A", "B", 10_001)]}, ["lines[0].quantity"]),
        ({"lines": []}, ["lines"]),
        ({"lines": [OrderLine(0, "A", "B", 1)] * 251}, ["lines"]),
        ({"lines": [OrderLine(2, "A", "B", 1)]}, ["lines[0].line_number"]),
        ({"lines": [OrderLine(0, "a b", "", 1)]}, ["lines[0].style_code", "lines[0].alloy_code"]),
        (
            {"lines": [OrderLine(0, "A", "B", 1, size="1" * 17, engraving="é" * 41)]},
            ["lines[0].size", "lines[0].engraving"],
        ),
        ({"lines": [OrderLine(0, "A", "B", 1, engraving="tab\there")]}, ["lines[0].engraving"]),
        ({"partner_reference": ""}, ["partner_reference"]),
        ({"partner_reference": "x" * 65}, ["partner_reference"]),
        ({"priority": 7}, ["priority"]),
        ({"due_time": None}, ["due_time"]),
        ({"due_time": datetime(1999, 12, 31, tzinfo=UTC)}, ["due_time"]),
        ({"request_id": ""}, ["request_id"]),
        ({"request_id": "r" * 65, "partner_reference": " "}, ["request_id", "partner_reference"]),
    ],
)
def test_every_bad_field_is_reported(overrides: dict[str, object], fields: list[str]) -> None:
    assert fields_of(**overrides) == fields


def test_validation_reports_all_lines_at_once() -> None:
    lines = [OrderLine(0, "A", "B", 1), OrderLine(0, "A", "B", 0), OrderLine(9, "A", "B", -1)]
    assert fields_of(lines=lines, partner_reference="") == [
        "partner_reference",
        "lines[1].quantity",
        "lines[2].line_number",
        "lines[2].quantity",
    ]


def test_catalogue_check_names_each_unknown_code() -> None:
    lines = [OrderLine(1, "RNG-1", "AU750Y", 1), OrderLine(2, "OLD", "PT950", 1), OrderLine(3, "RNG-1", "PT950", 1)]
    check_catalogue(lines[:1], {"RNG-1"}, {"AU750Y"})
    with pytest.raises(InvalidArgument) as raised:
        check_catalogue(lines, {"RNG-1"}, {"AU750Y"})
    assert raised.value.reason == "UNKNOWN_STYLE"
    assert [v.field for v in raised.value.violations] == [
        "lines[1].style_code",
        "lines[1].alloy_code",
        "lines[2].alloy_code",
    ]
    with pytest.raises(InvalidArgument) as raised:
        check_catalogue(lines[2:], {"RNG-1"}, {"AU750Y"})
    assert raised.value.reason == "UNKNOWN_ALLOY"


# -- the intake use case on fakes ---------------------------------------------------------


async def test_submission_stores_the_order_its_history_and_one_event() -> None:
    service = Orders()
    await service.seed("acme")
    lines = (OrderLine(0, STYLES[0], ALLOYS[0], 2, "52", "Forever"), OrderLine(0, STYLES[1], ALLOYS[1], 1))
    submitted = await service.orders.submit(submit_order(partner("acme"), "r-1", lines=lines, priority=3))
    order = submitted.order
    assert not submitted.replayed
    assert (order.partner_id, order.status, order.version, order.priority) == ("acme", S.SUBMITTED, 1, Priority.HIGH)
    assert [(ln.line_number, ln.style_code, ln.quantity) for ln in order.lines] == [
        (1, STYLES[0], 2),
        (2, STYLES[1], 1),
    ]
    assert await service.stored(order) == order
    [change] = await service.history(order)
    assert (change.from_status, change.to_status, change.cause) == (None, S.SUBMITTED, "request:r-1")
    assert service.uows.events == [OrderSubmitted(order)]


async def test_every_bad_field_is_reported_at_once_and_nothing_is_written() -> None:
    service = Orders()
    await service.seed("acme")
    bad = submit_order(
        acting_for("acme"),
        "",
        partner_reference=" ",
        due_time=None,
        lines=(OrderLine(0, "ring 1", ALLOYS[0], 0), OrderLine(7, STYLES[0], ALLOYS[0], 1, engraving="a\nb")),
    )
    with pytest.raises(InvalidArgument) as raised:
        await service.orders.submit(bad)
    assert [v.field for v in raised.value.violations] == [
        "request_id",
        "partner_reference",
        "due_time",
        "lines[0].style_code",
        "lines[0].quantity",
        "lines[1].line_number",
        "lines[1].engraving",
    ]
    assert not service.uows.state.orders and not service.uows.events


@pytest.mark.parametrize(
    ("lines", "reason", "fields"),
    [
        ((OrderLine(0, "OLD-STYLE", ALLOYS[0], 1),), "UNKNOWN_STYLE", ["lines[0].style_code"]),
        (
            (OrderLine(0, STYLES[0], ALLOYS[0], 1), OrderLine(0, "NO-SUCH", "PT950", 1)),
            "UNKNOWN_STYLE",
            ["lines[1].style_code", "lines[1].alloy_code"],
        ),
        ((OrderLine(0, STYLES[0], "PT950", 1),), "UNKNOWN_ALLOY", ["lines[0].alloy_code"]),
    ],
)
async def test_styles_and_alloys_are_checked_against_the_catalogue_copy(
    lines: tuple[OrderLine, ...], reason: str, fields: list[str]
) -> None:
    service = Orders()
    await service.seed("acme")
    await service.handlers.apply_catalogue_item(CatalogueKind.STYLE, "OLD-STYLE", "Old", False, 1)
    with pytest.raises(InvalidArgument) as raised:
        await service.orders.submit(submit_order(partner("acme"), lines=lines))
    assert (raised.value.reason, [v.field for v in raised.value.violations]) == (reason, fields)
    assert not service.uows.state.orders and not service.uows.state.idempotency and not service.uows.events


async def test_a_foreign_parent_answers_like_a_missing_partner() -> None:
    service = Orders()
    await service.seed("acme", "globex")
    errors = []
    for caller, parent in (
        (partner("globex"), "partners/acme"),
        (partner("globex"), "partners/nobody"),
        (acting_for("ghost"), ""),
        (STAFF, "partners/nobody"),
    ):
        with pytest.raises(NotFound) as raised:
            await service.orders.submit(submit_order(caller, parent=parent))
        errors.append((raised.value.message, raised.value.reason))
    assert errors == [("partner not found", "NOT_FOUND")] * 4
    assert not service.uows.state.orders


async def test_staff_name_the_partner_as_parent() -> None:
    service = Orders()
    await service.seed("globex")
    order = await service.submit(STAFF, parent="partners/globex")
    assert order.partner_id == "globex"
    [change] = await service.history(order)
    assert change.cause == "request:r-1"
    for parent, field in (("", "parent"), ("partner/globex", "parent")):
        with pytest.raises(InvalidArgument) as raised:
            await service.orders.submit(submit_order(STAFF, "r-2", parent=parent))
        assert [v.field for v in raised.value.violations] == [field]
