"""Validation of new orders and the catalogue check (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mes_kernel.errors import InvalidArgument
from services.orders.domain.intake import LineInput, check_catalogue, validate_order
from services.orders.domain.order import OrderLine, Priority

DUE = datetime(2030, 6, 1, tzinfo=UTC)


def validate(**overrides: object) -> tuple[Priority, datetime, list[OrderLine]]:
    args: dict[str, object] = {
        "partner_reference": "PO-1",
        "priority": 0,
        "due_time": DUE,
        "lines": [LineInput(0, "RNG-1", "AU750Y", 1)],
        "request_id": "r-1",
        **overrides,
    }
    return validate_order(**args)  # type: ignore[arg-type]


def fields_of(**overrides: object) -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        validate(**overrides)
    return [v.field for v in raised.value.violations]


def test_defaults_and_numbering() -> None:
    priority, due, lines = validate(lines=[LineInput(0, "A", "B", 1), LineInput(2, "C", "D", 10_000, "52", "Ü & ♥")])
    assert priority is Priority.NORMAL and due == DUE
    assert [line.line_number for line in lines] == [1, 2]
    assert validate(priority=4)[0] is Priority.RUSH


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"lines": [LineInput(0, "A", "B", 0)]}, ["lines[0].quantity"]),
        ({"lines": [LineInput(0, "A", "B", 10_001)]}, ["lines[0].quantity"]),
        ({"lines": []}, ["lines"]),
        ({"lines": [LineInput(0, "A", "B", 1)] * 251}, ["lines"]),
        ({"lines": [LineInput(2, "A", "B", 1)]}, ["lines[0].line_number"]),
        ({"lines": [LineInput(0, "a b", "", 1)]}, ["lines[0].style_code", "lines[0].alloy_code"]),
        (
            {"lines": [LineInput(0, "A", "B", 1, size="1" * 17, engraving="é" * 41)]},
            ["lines[0].size", "lines[0].engraving"],
        ),
        ({"lines": [LineInput(0, "A", "B", 1, engraving="tab\there")]}, ["lines[0].engraving"]),
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
    lines = [LineInput(0, "A", "B", 1), LineInput(0, "A", "B", 0), LineInput(9, "A", "B", -1)]
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
