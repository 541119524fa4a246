"""mesctl argument parsing and request building (no I/O)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from clients import ClientConfig
from clients.cli import orders as orders_cli
from clients.cli.__main__ import GROUPS, build_parser, config_from_args, group_modules, run
from clients.cli._app import CliUsageError
from clients.cli._args import enum_value, grams_to_mg, operation_name, order_line, parse_due, resource_name
from clients.cli._bulk import row_request, row_request_id
from clients.cli.inventory import receive_request
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_global_options_before_the_group_or_after_the_command() -> None:
    before = parse("--orders-addr", "h:1", "--output", "json", "--deadline", "2", "orders", "get", "5")
    after = parse("orders", "get", "5", "--orders-addr", "h:1", "-o", "json", "--deadline", "2")
    for args in (before, after):
        assert (args.orders_addr, args.output, args.deadline, args.order) == ("h:1", "json", 2.0, "5")
    assert parse("orders", "count").output == "table"
    config = config_from_args(parse("--token", "t", "--partner", "acme", "orders", "count"), ClientConfig())
    assert config.metadata() == (("authorization", "Bearer t"), ("x-mes-partner", "acme"))
    assert config.orders_addr == "127.0.0.1:50151"
    # A command's own "partner" argument does not leak into the x-mes-partner header.
    args = parse("partners", "get", "globex")
    assert args.partner == "globex" and config_from_args(args, ClientConfig()).partner is None


def test_every_group_registers_and_groups_are_modules_with_register() -> None:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subcommands.choices) == [
        "orders",
        "partners",
        "inventory",
        "production",
        "webhooks",
        "analytics",
        "watch",
        "traces",
        "events",
    ]
    assert [module.__name__ for module in group_modules()] == [f"clients.cli.{name}" for name in GROUPS]
    assert GROUPS[-1] == "moved"  # registers `events`, which says where those commands went


@pytest.mark.parametrize(
    "argv",
    [
        ["orders"],  # no command
        ["orders", "list", "--limit", "x"],
        ["inventory", "receive", "--weight-mg", "5"],  # --alloy or --stone required
        ["inventory", "receive", "--alloy", "A", "--stone", "S"],
        ["production", "review", "W/1", "--supervisor", "S"],  # --approve or --rework required
        ["production", "review", "W/1", "--supervisor", "S", "--approve", "--rework"],
        ["--deadline", "0", "orders", "count"],
        ["--output", "xml", "orders", "count"],
    ],
)
async def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(argv) == 2
    assert "error" in capsys.readouterr().err


async def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(["production", "--help"]) == 0
    assert "work-orders" in capsys.readouterr().out


def test_submit_flags_build_the_request() -> None:
    args = parse(
        "orders", "submit", "--parent", "acme", "--reference", "PO-1", "--priority", "rush",
        "--due", "2030-05-01", "--line", "RNG-1:AU750Y:2:52", "--line", "PND-2:AG925:1::For: you",
        "--request-id", "rid-1",
    )  # fmt: skip
    req = orders_cli.submit_request(args)
    assert req.parent == "partners/acme" and req.partner_reference == "PO-1" and req.request_id == "rid-1"
    assert req.priority == common_pb2.PRIORITY_RUSH
    assert req.due_time.ToDatetime(tzinfo=UTC) == datetime(2030, 5, 1, 23, 59, 59, tzinfo=UTC)
    assert [(x.line_number, x.style_code, x.alloy_code, x.quantity, x.size, x.engraving) for x in req.lines] == [
        (1, "RNG-1", "AU750Y", 2, "52", ""),
        (2, "PND-2", "AG925", 1, "", "For: you"),
    ]


def test_submit_file_is_overridden_by_flags() -> None:
    data = {
        "reference": "FROM-FILE",
        "priority": "HIGH",
        "due": "2030-01-02T10:00:00",
        "lines": ["RNG-1:AU750Y:3", {"style_code": "PND-2", "alloy_code": "AG925", "quantity": 1}],
    }
    req = orders_cli.submit_request(parse("orders", "submit", "--reference", "FLAG"), data)
    assert req.partner_reference == "FLAG" and req.priority == common_pb2.PRIORITY_HIGH
    assert req.due_time.ToDatetime(tzinfo=UTC) == datetime(2030, 1, 2, 10, tzinfo=UTC)
    assert [(x.line_number, x.style_code, x.quantity) for x in req.lines] == [(1, "RNG-1", 3), (2, "PND-2", 1)]
    with pytest.raises(CliUsageError, match="bad order file"):
        orders_cli.submit_request(parse("orders", "submit"), {"no_such_field": 1})


def test_value_parsers() -> None:
    assert resource_name("123", "orders") == resource_name("orders/123", "orders") == "orders/123"
    with pytest.raises(CliUsageError):
        resource_name("partners/123", "orders")
    assert operation_name("WO-1/3") == operation_name("workOrders/WO-1/operations/3") == "workOrders/WO-1/operations/3"
    with pytest.raises(CliUsageError):
        operation_name("WO-1")
    assert enum_value(orders_pb2.OrderStatus, "on-hold", "status") == orders_pb2.ORDER_STATUS_ON_HOLD
    assert enum_value(orders_pb2.OrderStatus, "ORDER_STATUS_SHIPPED", "status") == orders_pb2.ORDER_STATUS_SHIPPED
    with pytest.raises(CliUsageError, match="SUBMITTED"):
        enum_value(orders_pb2.OrderStatus, "unspecified", "status")
    assert grams_to_mg("12.345") == 12345 and grams_to_mg("7") == 7000 and grams_to_mg("0.5") == 500
    for bad in ("1.2345", "abc", "nan"):
        with pytest.raises(CliUsageError):
            grams_to_mg(bad)
    with pytest.raises(CliUsageError):
        order_line("RNG-1:AU750Y:two")
    with pytest.raises(CliUsageError):
        order_line("RNG-1:AU750Y")
    assert parse_due("2030-01-02T03:04:05+02:00").utcoffset() is not None
    with pytest.raises(CliUsageError):
        parse_due("tomorrow")


def test_bulk_rows_get_deterministic_request_ids() -> None:
    assert row_request_id("/a/b/orders.csv", 3) == row_request_id("orders.csv", 3)
    assert row_request_id("orders.csv", 3) != row_request_id("orders.csv", 4)
    assert row_request_id("orders.csv", 3) != row_request_id("other.csv", 3)
    assert parse("orders", "bulk-submit", "--csv", "orders.csv", "--batch", "week-42").batch == "week-42"
    req = row_request(
        {"reference": "R1", "priority": "low", "due": "2030-01-01", "lines": "RNG-1:AU750Y:1; PND-2:AG925:2:45cm"},
        file_name="orders.csv",
        row_number=1,
        parent="partners/acme",
    )
    assert req.request_id == row_request_id("orders.csv", 1) and req.parent == "partners/acme"
    assert [(x.line_number, x.style_code, x.size) for x in req.lines] == [(1, "RNG-1", ""), (2, "PND-2", "45cm")]
    single = row_request(
        {
            "reference": "R2",
            "style": "RNG-1",
            "alloy": "AU750Y",
            "quantity": "4",
            "parent": "globex",
            "request_id": "x",
        },
        file_name="orders.csv",
        row_number=2,
    )
    assert single.parent == "partners/globex" and single.request_id == "x" and single.lines[0].quantity == 4
    with pytest.raises(CliUsageError):
        row_request({"reference": "R3"}, file_name="orders.csv", row_number=3)


def test_receive_request_metal_and_stone() -> None:
    metal = receive_request(parse("inventory", "receive", "--alloy", "AU750Y", "--grams", "100.25"))
    assert metal.kind == common_pb2.MATERIAL_KIND_METAL and metal.weight_mg == 100250 and metal.request_id == ""
    stone = receive_request(parse("inventory", "receive", "--stone", "DIA-1", "--pieces", "12", "--points", "300"))
    assert (stone.kind, stone.pieces, stone.weight_points) == (common_pb2.MATERIAL_KIND_STONE, 12, 300)
    for argv in (
        ["inventory", "receive", "--alloy", "AU750Y"],
        ["inventory", "receive", "--alloy", "AU750Y", "--weight-mg", "5", "--pieces", "2"],
        ["inventory", "receive", "--stone", "DIA-1", "--grams", "1"],
        ["inventory", "receive", "--stone", "DIA-1"],
    ):
        with pytest.raises(CliUsageError):
            receive_request(parse(*argv))
