"""The plain-text forms both command lines print: tables, details, UTC times (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mes_kernel.text import details, stamp, table


def test_table_aligns_columns_and_right_aligns_numbers() -> None:
    text = table(["NAME", "QTY", "WEIGHT (g)"], [("ring", 2, "1.500"), ("long pendant", 10, "12.000"), ("x", None, "")])
    assert text.splitlines() == [
        "NAME          QTY  WEIGHT (g)",
        "------------  ---  ----------",
        "ring            2       1.500",
        "long pendant   10      12.000",
        "x               -           -",
    ]
    assert table(["A"], []) == "(no results)"
    assert table(["A"], [], empty="(nothing)") == "(nothing)"


def test_details_align_the_values() -> None:
    assert details([("name", "orders/1"), ("late", True), ("reason", "")]).splitlines() == [
        "name:   orders/1",
        "late:   yes",
        "reason: -",
    ]
    assert details([]) == ""


def test_stamp_is_utc_to_the_second_or_a_dash() -> None:
    assert stamp(datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2030-01-02 03:04:05Z"
    assert stamp(datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2030-01-02 03:04:05Z"
    assert stamp(None) == "-"
