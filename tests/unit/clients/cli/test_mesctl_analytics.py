"""`mesctl analytics`: arguments, windows, tables and JSON, errors and exit codes, and `rebuild
--from-services` turning the services' orders and operations into facts (fake clients, no I/O)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from clients import ClientConfig, InvalidArgumentError, UnavailableError
from clients.cli import __main__ as mesctl
from clients.cli import analytics as cli
from clients.cli.__main__ import build_parser, config_from_args, run
from clients.cli._app import CliUsageError
from mes.analytics.v1 import analytics_pb2 as pb
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2 as ppb

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def window(*argv: str) -> tuple[datetime, datetime, int]:
    got = cli.window_from_args(parse("analytics", "flow", *argv), now=NOW)
    return got.from_time.ToDatetime(tzinfo=UTC), got.to_time.ToDatetime(tzinfo=UTC), got.grain


def test_windows_default_by_grain_and_take_dates_or_times() -> None:
    assert window() == (NOW - timedelta(days=28), NOW, pb.GRAIN_DAY)
    assert window("--grain", "hour") == (NOW - timedelta(days=2), NOW, pb.GRAIN_HOUR)
    assert window("--grain", "WEEK") == (NOW - timedelta(weeks=12), NOW, pb.GRAIN_WEEK)
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert window("--from", "2026-11-01", "--to", "2026-12-01") == (start, end, pb.GRAIN_DAY)
    assert window("--from", "2026-11-01T06:00:00+01:00", "--grain", "grain-hour")[:2] == (
        datetime(2026, 11, 1, 5, tzinfo=UTC),
        NOW,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grain", "month"], "unknown grain 'month'; choose one of: HOUR, DAY, WEEK"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "--from .* must be before --to"),
        (["--from", "yesterday"], "bad date 'yesterday'"),
    ],
)
def test_bad_windows_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(CliUsageError, match=message):
        cli.window_from_args(parse("analytics", "metal", *argv), now=NOW)


def test_the_analytics_address_is_a_global_option() -> None:
    args = parse("analytics", "status", "--analytics-addr", "h:9")
    assert config_from_args(args, ClientConfig()).analytics_addr == "h:9"
    assert config_from_args(parse("analytics", "status"), ClientConfig()).analytics_addr == "127.0.0.1:50155"


# -- the commands against fake clients --------------------------------------------------------


class FakeAnalytics:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.imports: list[pb.ImportFactsRequest] = []
        self.error: Exception | None = None

    def _call(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise self.error

    async def get_projection_status(self) -> pb.GetProjectionStatusResponse:
        self._call("status")
        return pb.GetProjectionStatusResponse(
            as_of=pb.AsOf(compute_time=ts(NOW), positions=[pb.StreamPosition(stream="ORDERS", sequence=812)]),
            orders=140,
            operations=1300,
            custody_entries=20,
            usage_minutes=700,
            last_event_time=ts(NOW - timedelta(seconds=3)),
            imported_orders=119,
            imported_operations=1174,
        )

    async def get_partner_analytics(self, *, window: pb.Window, partner_id: str) -> pb.GetPartnerAnalyticsResponse:
        self._call("partners", window=window, partner_id=partner_id)
        day = ts(datetime(2026, 12, 6, 23, tzinfo=UTC))
        return pb.GetPartnerAnalyticsResponse(
            volume=[pb.VolumeBucket(partner_id="aurora-jewels", bucket_start=day, orders=3, pieces=7)],
            mix=[pb.MixShare(dimension=pb.MIX_DIMENSION_STYLE, key="RNG-SOL-001", pieces=4, share=0.5714)],
            delivery=[pb.Delivery(partner_id="", shipped=10, on_time=9, otd=0.9)],
            lead_time=[pb.LeadTime(partner_id="aurora-jewels", n=3, has_percentiles=False)],
            cadence=[
                pb.Cadence(
                    partner_id="northwind-gems",
                    submissions=15,
                    has_median=True,
                    median_gap_days=1.5,
                    days_since_last=20.2,
                    quiet=True,
                )
            ],
            api_usage=[
                pb.ApiUsageBucket(
                    partner_id="aurora-jewels",
                    bucket_start=day,
                    requests=1200,
                    throttle_rate=0.0125,
                    has_percentiles=True,
                    p50_ms=38.0,
                    p95_ms=240.0,
                )
            ],
            api_errors=[pb.ApiErrorCount(partner_id="aurora-jewels", code="THROTTLED", count=15)],
            idempotency=[pb.Idempotency(partner_id="aurora-jewels", submissions=50, replays=3, replay_rate=0.06)],
        )

    async def get_flow_analytics(self, *, window: pb.Window) -> pb.GetFlowAnalyticsResponse:
        self._call("flow", window=window)
        return pb.GetFlowAnalyticsResponse(
            work_centers=[
                pb.WorkCenterNow(
                    work_center="workCenters/CAST-1",
                    wip_operations=2,
                    wip_gross_mg=12_345,
                    queue=1,
                    oldest_queue_min=42.0,
                )
            ],
            utilisation=[
                pb.Utilisation(work_center="workCenters/SET-1", utilisation=0.91, rank=1, constraint_candidate=True)
            ],
            littles_law=pb.LittlesLaw(mean_wip=12.5, throughput_per_day=3.0, mean_flow_days=4.1, completed=30),
        )

    async def get_metal_analytics(self, *, window: pb.Window) -> pb.GetMetalAnalyticsResponse:
        self._call("metal", window=window)
        return pb.GetMetalAnalyticsResponse(
            by_operation=[
                pb.LossByOperation(
                    operation_code="CASTING",
                    alloy_code="AU750Y",
                    operations=4,
                    gross_in_mg=40_000,
                    loss_mg=320,
                    loss_pct=0.8,
                    exceptions=1,
                )
            ],
            by_operator=[pb.LossByOperator(operator_code="OP-04", operations=4, loss_mg=320, loss_pct=0.8)],
        )

    async def import_facts(self, request: pb.ImportFactsRequest) -> pb.ImportFactsResponse:
        self._call("import")
        self.imports.append(request)
        return pb.ImportFactsResponse(orders=len(request.orders), operations=len(request.operations))

    async def rebuild(self, *, keep_imported: bool, request_id: str | None) -> pb.RebuildResponse:
        self._call("rebuild", keep_imported=keep_imported, request_id=request_id)
        return pb.RebuildResponse(as_of=pb.AsOf(compute_time=ts(NOW)))


async def _aiter(items: Sequence[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


class FakeOrders:
    def __init__(self, orders: list[orders_pb2.Order]) -> None:
        self.orders = orders

    def iter_orders(self) -> AsyncIterator[orders_pb2.Order]:
        return _aiter(self.orders)


class FakeProduction:
    def __init__(self, work_orders: list[ppb.WorkOrder], operations: list[ppb.Operation]) -> None:
        self.work_orders = work_orders
        self.operations = operations

    def iter_work_orders(self, *, order_ids: Sequence[str], page_size: int) -> AsyncIterator[ppb.WorkOrder]:
        assert len(order_ids) <= 1000 and page_size <= 1000
        return _aiter([wo for wo in self.work_orders if wo.order_id in order_ids])

    def iter_operations(self, *, work_order_ids: Sequence[str], page_size: int) -> AsyncIterator[ppb.Operation]:
        return _aiter([op for op in self.operations if op.work_order_id in work_order_ids])


class FakeClients:
    def __init__(self, analytics: FakeAnalytics, orders: FakeOrders, production: FakeProduction) -> None:
        self.analytics, self.orders, self.production = analytics, orders, production

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None


@pytest.fixture
def analytics() -> FakeAnalytics:
    return FakeAnalytics()


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch, analytics: FakeAnalytics) -> FakeClients:
    fakes = FakeClients(analytics, FakeOrders([]), FakeProduction([], []))
    monkeypatch.setattr(mesctl, "MesClients", lambda config: fakes)
    return fakes


async def mesctl_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def test_status_prints_what_the_read_model_holds(services: FakeClients) -> None:
    code, out, _ = await mesctl_run("analytics", "status")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["orders:", "140"] in lines and ["imported:", "119"] in lines and ["imported:", "1174"] in lines
    assert ["API", "usage", "minutes:", "700"] in lines
    assert ["position", "ORDERS:", "812"] in lines
    code, out, _ = await mesctl_run("-o", "json", "analytics", "status")
    assert code == 0 and json.loads(out)["imported_orders"] == "119"  # int64 in proto JSON


async def test_partners_sends_the_window_and_partner_and_prints_every_section(
    services: FakeClients, analytics: FakeAnalytics
) -> None:
    code, out, _ = await mesctl_run(
        "analytics", "partners", "--partner", "partners/aurora-jewels", "--from", "2026-11-01", "--to", "2026-12-01"
    )
    assert code == 0
    name, kwargs = analytics.calls[-1]
    assert name == "partners" and kwargs["partner_id"] == "aurora-jewels"
    assert kwargs["window"].from_time.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 1, tzinfo=UTC)
    for title in (
        "Volume",
        "Mix",
        "Cancellations",
        "Lead time",
        "On-time delivery",
        "Cadence",
        "API usage",
        "API operations",
        "API errors",
        "Order submissions",
    ):
        assert f"\n{title}" in "\n" + out
    rows = {tuple(line.split()) for line in out.splitlines()}
    assert ("aurora-jewels", "2026-12-06", "23:00:00Z", "3", "7") in rows
    assert ("STYLE", "RNG-SOL-001", "4", "57.1%") in rows
    assert ("(all)", "10", "9", "90.0%") in rows
    assert ("northwind-gems", "15", "1.5", "20.2", "yes") in rows
    assert ("aurora-jewels", "3", "-", "-", "-") in rows  # fewer than 5: no percentiles
    assert "(no results)" in out  # the empty sections say so
    code, _, _ = await mesctl_run("analytics", "partners")
    assert code == 0 and analytics.calls[-1][1]["partner_id"] == ""
    code, _, _ = await mesctl_run("analytics", "partners", "--partner-id", "northwind-gems")
    assert code == 0 and analytics.calls[-1][1]["partner_id"] == "northwind-gems"


async def test_flow_and_metal_tables(services: FakeClients, analytics: FakeAnalytics) -> None:
    code, out, _ = await mesctl_run("analytics", "flow", "--grain", "week")
    assert code == 0 and analytics.calls[-1][1]["window"].grain == pb.GRAIN_WEEK
    rows = {tuple(line.split()) for line in out.splitlines()}
    assert ("CAST-1", "2", "12.345", "0.000", "1", "42.0", "0.0") in rows
    assert ("1", "SET-1", "0", "0", "91.0%", "0.0", "yes") in rows
    assert ("mean", "WIP:", "12.50") in rows
    code, out, _ = await mesctl_run("analytics", "metal")
    assert code == 0
    rows = {tuple(line.split()) for line in out.splitlines()}
    assert ("CASTING", "AU750Y", "4", "40.000", "0.320", "0.800%", "0.000", "0.000", "1") in rows
    assert ("OP-04", "4", "0.000", "0.320", "0.800%", "0.000", "0.000") in rows


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (UnavailableError(grpc.StatusCode.UNAVAILABLE, "connection refused"), 3, "error: UNAVAILABLE"),
        (
            InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT, "too many buckets", reason="INVALID_ARGUMENT"),
            1,
            "error: INVALID_ARGUMENT INVALID_ARGUMENT: too many buckets",
        ),
    ],
)
async def test_errors_are_printed_with_their_exit_code(
    services: FakeClients, analytics: FakeAnalytics, error: Exception, code: int, message: str
) -> None:
    analytics.error = error
    got, out, err = await mesctl_run("analytics", "partners", "--grain", "hour")
    assert (got, out) == (code, "") and err.startswith(message)


async def test_bad_arguments_exit_2_before_any_call(services: FakeClients, analytics: FakeAnalytics) -> None:
    code, _, err = await mesctl_run("analytics", "metal", "--grain", "month")
    assert code == 2 and "unknown grain 'month'" in err
    code, _, err = await mesctl_run("analytics", "partners", "--partner-id", "a/b/c")
    assert code == 2 and "expected an id or 'partners/<id>'" in err
    assert analytics.calls == []


# -- rebuild and the facts from the services ----------------------------------------------------

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _order(order_id: str, status: int, lines: int = 1, updated: datetime = T0) -> orders_pb2.Order:
    return orders_pb2.Order(
        name=f"orders/{order_id}",
        order_id=order_id,
        partner="partners/aurora-jewels",
        status=status,  # type: ignore[arg-type]
        create_time=ts(T0),
        update_time=ts(updated),
        due_time=ts(T0 + timedelta(days=10)),
        lines=[
            orders_pb2.OrderLine(line_number=n, style_code="RNG-SOL-001", alloy_code="AU750Y", quantity=n)
            for n in range(1, lines + 1)
        ],
    )


def _work_order(work_order_id: str, order_id: str, released: datetime) -> ppb.WorkOrder:
    return ppb.WorkOrder(work_order_id=work_order_id, order_id=order_id, alloy_code="AU750Y", create_time=ts(released))


def _op(work_order: str, sequence: int, status: int, **fields: Any) -> ppb.Operation:
    return ppb.Operation(
        name=f"workOrders/{work_order}/operations/{sequence}",
        work_order_id=work_order,
        sequence=sequence,
        operation_code=["CASTING", "FILING", "POLISHING"][sequence - 1],
        work_center="workCenters/CAST-1",
        status=status,  # type: ignore[arg-type]
        **fields,
    )


def test_an_order_fact_has_its_ship_cancel_and_release_times() -> None:
    shipped = _order("o-1", orders_pb2.ORDER_STATUS_SHIPPED, lines=2, updated=T0 + timedelta(days=5))
    work_orders = [
        _work_order("w-2", "o-1", T0 + timedelta(minutes=2)),
        _work_order("w-1", "o-1", T0 + timedelta(minutes=1)),
    ]
    fact = cli.order_fact(shipped, work_orders)
    assert (fact.order_id, fact.partner_id) == ("o-1", "aurora-jewels")
    assert fact.submit_time.ToDatetime(tzinfo=UTC) == T0 and fact.due_time == shipped.due_time
    assert fact.ship_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(days=5) and not fact.HasField("cancel_time")
    assert fact.release_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=1)
    assert [(x.style_code, x.alloy_code, x.quantity) for x in fact.lines] == [
        ("RNG-SOL-001", "AU750Y", 1),
        ("RNG-SOL-001", "AU750Y", 2),
    ]
    cancelled = cli.order_fact(_order("o-2", orders_pb2.ORDER_STATUS_CANCELLED, updated=T0 + timedelta(hours=3)), [])
    assert cancelled.cancel_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(hours=3)
    assert not cancelled.HasField("release_time") and not cancelled.HasField("ship_time")
    # An open order's last change is not a ship or cancel time.
    waiting = cli.order_fact(_order("o-3", orders_pb2.ORDER_STATUS_ON_HOLD, updated=T0 + timedelta(hours=1)), [])
    assert not waiting.HasField("ship_time") and not waiting.HasField("cancel_time")


def test_operation_facts_name_the_statuses_as_the_analytics_do_and_derive_ready_times() -> None:
    released, started, finished = T0, T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    work_order = _work_order("w-1", "o-1", released)
    ops = [
        _op("w-1", 3, ppb.OPERATION_STATUS_PENDING),
        _op("w-1", 2, ppb.OPERATION_STATUS_QUEUED),
        _op(
            "w-1",
            1,
            ppb.OPERATION_STATUS_DONE,
            start_time=ts(started),
            finish_time=ts(finished),
            weigh_in_mg=5000,
            weigh_out_mg=3900,
            scrap_returned_mg=1000,
            loss_tolerance_per_mille=20,
            finished_by="OP-01",
            paused_seconds=60,
            alloy_code="AU750Y",
            order_id="o-1",
        ),
    ]
    facts = cli.operation_facts(work_order, ops)
    assert [(f.name.rsplit("/", 1)[1], f.status) for f in facts] == [
        ("1", "FINISHED"),
        ("2", "READY"),
        ("3", "PENDING"),
    ]
    done, queued, pending = facts
    assert done.ready_time.ToDatetime(tzinfo=UTC) == released and done.release_time == work_order.create_time
    assert queued.ready_time.ToDatetime(tzinfo=UTC) == finished  # ready when the step before finished
    assert not pending.HasField("ready_time") and all(f.order_id == "o-1" for f in facts)
    assert (done.weigh_in_mg, done.weigh_out_mg, done.scrap_returned_mg, done.loss_tolerance_per_mille) == (
        5000,
        3900,
        1000,
        20,
    )
    assert (done.finished_by, done.paused_seconds, done.work_center, done.alloy_code) == (
        "OP-01",
        60,
        "workCenters/CAST-1",
        "AU750Y",
    )
    assert cli.operation_facts(work_order, [_op("w-1", 1, ppb.OPERATION_STATUS_IN_PROGRESS)])[0].status == "IN_PROGRESS"


async def test_rebuild_from_the_services_imports_every_accepted_order_in_batches(
    services: FakeClients, analytics: FakeAnalytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "IMPORT_BATCH", 2)
    statuses = [
        orders_pb2.ORDER_STATUS_SHIPPED,
        orders_pb2.ORDER_STATUS_IN_PRODUCTION,
        orders_pb2.ORDER_STATUS_REJECTED,
        orders_pb2.ORDER_STATUS_CANCELLED,
        orders_pb2.ORDER_STATUS_SUBMITTED,
    ]
    orders = [_order(f"o-{i}", status, updated=T0 + timedelta(days=i)) for i, status in enumerate(statuses, start=1)]
    services.orders = FakeOrders(orders)
    services.production = FakeProduction(
        [_work_order("w-1", "o-1", T0), _work_order("w-2", "o-2", T0), _work_order("w-4", "o-4", T0)],
        [
            _op("w-1", 1, ppb.OPERATION_STATUS_DONE),
            _op("w-2", 1, ppb.OPERATION_STATUS_DONE),
            _op("w-2", 2, ppb.OPERATION_STATUS_IN_PROGRESS),
            _op("w-4", 1, ppb.OPERATION_STATUS_CANCELLED),
        ],
    )
    code, out, err = await mesctl_run("analytics", "rebuild", "--keep-imported", "--from-services")
    assert code == 0, err
    assert analytics.calls[0] == ("rebuild", {"keep_imported": True, "request_id": None})
    assert [[o.order_id for o in r.orders] for r in analytics.imports] == [["o-1", "o-2"], ["o-4", "o-5"]]
    assert [sorted(op.name for op in r.operations) for r in analytics.imports] == [
        ["workOrders/w-1/operations/1", "workOrders/w-2/operations/1", "workOrders/w-2/operations/2"],
        ["workOrders/w-4/operations/1"],
    ]
    facts = {o.order_id: o for r in analytics.imports for o in r.orders}
    assert facts["o-1"].ship_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(days=1)
    assert facts["o-4"].cancel_time.ToDatetime(tzinfo=UTC) == T0 + timedelta(days=4)
    assert not facts["o-2"].HasField("ship_time") and not facts["o-5"].HasField("release_time")
    assert out.strip() == "rebuilt; imported 4 orders, 4 operations"
    assert "imported 2 orders, 3 operations" in err and "imported 4 orders, 4 operations" in err
    code, out, _ = await mesctl_run("-o", "json", "analytics", "rebuild")
    assert code == 0 and analytics.calls[-1] == ("rebuild", {"keep_imported": False, "request_id": None})
    assert set(json.loads(out)) == {"rebuild"}
