"""The web bench on a generated history (``--database``): its arguments, the pages' parameters chosen from
the services' answers, the import's projection and the report's lines (without a browser or a stack)."""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace
from typing import Any, TextIO

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mes.analytics.v1 import analytics_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2 as pb
from perf import web_bench
from perf.web_bench import (
    ANALYTICS_PAGES,
    AnalyticsFill,
    accepted_total,
    analytics_line,
    choose_order,
    choose_work_center,
    history_seeded,
    import_projection_s,
    order_counts_text,
    parse_args,
    report,
)
from tests.e2e.web._pages import page_names, visits


def _order(order_id: str, seconds: int) -> orders_pb2.Order:
    return orders_pb2.Order(order_id=order_id, create_time=Timestamp(seconds=seconds))


def _wo(order_id: str, status: pb.WorkOrderStatus.ValueType) -> pb.WorkOrder:
    return pb.WorkOrder(work_order_id=f"wo-{order_id}-{status}", order_id=order_id, status=status)


def test_perf_web_history_order_is_the_newest_with_a_work_order_in_progress() -> None:
    orders = [_order("old", 100), _order("new", 300), _order("mid", 200)]
    work_orders = [
        _wo("old", pb.WORK_ORDER_STATUS_IN_PROGRESS),
        _wo("mid", pb.WORK_ORDER_STATUS_IN_PROGRESS),
        _wo("mid", pb.WORK_ORDER_STATUS_COMPLETED),
        _wo("new", pb.WORK_ORDER_STATUS_RELEASED),
    ]
    chosen = choose_order(orders, work_orders)
    assert chosen is not None
    assert (chosen[0].order_id, chosen[1]) == ("mid", pb.WORK_ORDER_STATUS_IN_PROGRESS)


def test_perf_web_history_order_falls_back_to_a_released_work_order_then_none() -> None:
    orders = [_order("a", 100), _order("b", 200)]
    released = choose_order(orders, [_wo("a", pb.WORK_ORDER_STATUS_RELEASED), _wo("b", pb.WORK_ORDER_STATUS_COMPLETED)])
    assert released is not None and released[0].order_id == "a"
    assert choose_order(orders, [_wo("a", pb.WORK_ORDER_STATUS_HELD)]) is None
    assert choose_order([], []) is None


def _center(code: str, active: bool = True) -> pb.WorkCenter:
    return pb.WorkCenter(name=f"workCenters/{code}", code=code, active=active)


def _stats(code: str, queued: int, in_progress: int = 0) -> pb.WorkCenterStats:
    return pb.WorkCenterStats(work_center=f"workCenters/{code}", queued=queued, in_progress=in_progress)


def test_perf_web_history_bench_is_the_active_center_with_the_longest_queue() -> None:
    centers = [_center("CAST-1"), _center("POL-1"), _center("POL-2"), _center("SET-9", active=False)]
    stats = [_stats("CAST-1", 3, 1), _stats("POL-1", 7, 0), _stats("POL-2", 7, 2), _stats("SET-9", 50)]
    chosen = choose_work_center(centers, stats)
    assert chosen is not None
    code, figures = chosen
    assert (code, figures.queued, figures.in_progress) == ("POL-2", 7, 2)
    # no figures at all: the first active code, with empty figures
    first = choose_work_center(centers[:2], [])
    assert first is not None and first[0] == "CAST-1"
    assert choose_work_center([_center("X", active=False)], []) is None


def test_perf_web_history_values_fill_the_web_tests_paths() -> None:
    paths = {v.name: (v.path, v.role) for v in visits(history_seeded("ord-42", "POL-2"))}
    assert list(paths) == page_names()
    assert paths["order"] == ("/orders/ord-42", "supervisor")
    assert paths["bench"] == ("/bench/POL-2", "operator")
    assert paths["analytics"][0] == "/analytics?window=7d"
    assert set(paths) >= ANALYTICS_PAGES


def test_perf_web_history_arguments() -> None:
    args = parse_args(["--database", "mes_gen_live", "--loads", "2", "--pages", "floor,orders"])
    assert (args.database, args.loads, args.pages, args.analytics) == ("mes_gen_live", 2, ["floor", "orders"], "check")
    assert args.import_budget == 20.0
    imported = parse_args(["--database", "x", "--import-analytics", "--import-budget", "5"])
    assert (imported.analytics, imported.import_budget) == ("import", 5.0)
    assert parse_args(["--database", "x", "--skip-analytics"]).analytics == "skip"
    default = parse_args([])
    assert (default.database, default.pages, default.loads) == (None, [], 20)
    for wrong in (
        ["--skip-analytics"],  # goes with --database
        ["--import-analytics"],
        ["--database", "x", "--import-budget", "5"],  # goes with --import-analytics
        ["--database", "x", "--skip-analytics", "--import-analytics"],
        ["--database", "x", "--import-analytics", "--import-budget", "0"],
    ):
        with pytest.raises(SystemExit):
            parse_args(wrong)


def test_perf_web_history_import_projection() -> None:
    assert import_projection_s(120.0, 0, 100_000) == math.inf
    assert import_projection_s(120.0, 1_000, 100_000) == pytest.approx(12_000.0)
    assert import_projection_s(10.0, 500, 400) == pytest.approx(10.0)  # done: the time it took


def _counts() -> orders_pb2.CountOrdersResponse:
    return orders_pb2.CountOrdersResponse(
        counts=[
            orders_pb2.StatusCount(status=orders_pb2.ORDER_STATUS_IN_PRODUCTION, count=1_459),
            orders_pb2.StatusCount(status=orders_pb2.ORDER_STATUS_SHIPPED, count=95_675),
            orders_pb2.StatusCount(status=orders_pb2.ORDER_STATUS_REJECTED, count=10),
        ]
    )


def test_perf_web_history_data_size() -> None:
    assert order_counts_text(_counts()) == "97,144 orders (SHIPPED 95,675, IN_PRODUCTION 1,459, REJECTED 10)"
    assert accepted_total(_counts()) == 97_134


def test_perf_web_history_analytics_lines_say_what_was_done() -> None:
    left = ["analytics", "metal", "partners"]
    slow = AnalyticsFill(
        "too slow",
        seconds=200.0,
        imported_orders=2_000,
        imported_operations=37_000,
        projected_s=10_000.0,
        budget_s=1200,
    )
    line = analytics_line(slow, "mes_gen_live", 100_000, left)
    assert "Left out: analytics, metal, partners" in line
    assert "10.0 orders/s" in line and "185 operations/s" in line and "about 167 min" in line
    assert "budget of 20 min" in line
    done = AnalyticsFill("imported", 100_000, 1_870_000, seconds=600.0, imported_orders=100_000)
    assert "filled it" in analytics_line(done, "mes_gen_live", 100_000, []) and "kept in `mes_gen_live`" in (
        analytics_line(done, "mes_gen_live", 100_000, [])
    )
    held = analytics_line(AnalyticsFill("held", 50, 10), "db", 100, [])
    assert "not imported again" in held and "partial import" in held
    assert "--skip-analytics" in analytics_line(AnalyticsFill("skipped"), "db", 100, left)
    empty = analytics_line(AnalyticsFill("empty"), "db", 100, left)
    assert "Left out: analytics, metal, partners" in empty and "--import-analytics" in empty
    assert not AnalyticsFill("empty").measures
    assert not AnalyticsFill("skipped").measures and AnalyticsFill("held", 1).measures


def test_perf_web_history_report_states_the_command_and_the_stack() -> None:
    text = report([], 2, 10.0, command="python -m perf.web_bench --database x", setup=["Stack: PostgreSQL `x`."])
    assert "`python -m perf.web_bench --database x`: 10 s" in text
    assert "Stack: PostgreSQL `x`." in text
    assert "`python -m perf.web_bench --loads 2`" in report([], 2, 1.0)


class _FakeAnalytics:
    """The analytics service as the import sees it: facts counted, a rebuild empties them."""

    def __init__(self, orders: int = 0) -> None:
        self.orders = orders
        self.rebuilds = 0

    async def get_projection_status(self) -> analytics_pb2.GetProjectionStatusResponse:
        return analytics_pb2.GetProjectionStatusResponse(
            orders=self.orders,
            operations=self.orders * 18,
            imported_orders=self.orders,
            imported_operations=self.orders * 18,
        )

    async def rebuild(self, keep_imported: bool = False) -> analytics_pb2.RebuildResponse:
        self.rebuilds += 1
        self.orders = 0
        return analytics_pb2.RebuildResponse()


class _FakeStack:
    token = "t"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{len(service)}"


def _fake_mesctl(analytics: _FakeAnalytics, total: int, argvs: list[list[str]]) -> Any:
    async def mesctl(argv: list[str], *, stdout: TextIO, stderr: TextIO) -> int:
        argvs.append(argv)
        print("rebuilt: as of now", file=stderr)
        while analytics.orders < total:
            await asyncio.sleep(0.01)
            analytics.orders += 100
            print(f"imported {analytics.orders} orders, {analytics.orders * 18} operations", file=stderr)
        return 0

    return mesctl


def _fill(
    monkeypatch: pytest.MonkeyPatch, analytics: _FakeAnalytics, total: int, budget_s: float, *, fill: bool = True
) -> Any:
    argvs: list[list[str]] = []
    monkeypatch.setattr(web_bench, "mesctl", _fake_mesctl(analytics, total, argvs))
    monkeypatch.setattr(web_bench, "IMPORT_POLL_S", 0.02)
    monkeypatch.setattr(web_bench, "IMPORT_SAMPLE_S", 0.05)
    mes = SimpleNamespace(analytics=analytics)
    result = asyncio.run(web_bench.fill_analytics(_FakeStack(), mes, total, budget_s, fill=fill))  # type: ignore[arg-type]
    return result, argvs


def test_perf_web_history_an_empty_read_model_is_filled_by_mesctl(monkeypatch: pytest.MonkeyPatch) -> None:
    analytics = _FakeAnalytics()
    fill, argvs = _fill(monkeypatch, analytics, 500, budget_s=3600.0)
    assert fill.outcome == "imported" and fill.measures
    assert (fill.orders, fill.imported_orders) == (500, 500)
    assert argvs[0][:3] == ["analytics", "rebuild", "--from-services"]
    assert "--analytics-addr" in argvs[0] and analytics.rebuilds == 0


def test_perf_web_history_a_slow_import_stops_between_batches_and_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    analytics = _FakeAnalytics()
    fill, _ = _fill(monkeypatch, analytics, 10_000_000, budget_s=0.01)
    assert fill.outcome == "too slow" and not fill.measures
    assert fill.imported_orders > 0 and fill.imported_orders % 100 == 0  # whole batches
    assert fill.projected_s > fill.budget_s
    assert analytics.rebuilds == 1 and (fill.orders, analytics.orders) == (0, 0)


def test_perf_web_history_a_read_model_holding_orders_is_not_imported_again(monkeypatch: pytest.MonkeyPatch) -> None:
    analytics = _FakeAnalytics(orders=100_000)
    fill, argvs = _fill(monkeypatch, analytics, 100_000, budget_s=1.0)
    assert (fill.outcome, fill.orders, argvs) == ("held", 100_000, [])


def test_perf_web_history_an_empty_read_model_is_left_empty_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    analytics = _FakeAnalytics()
    result, argvs = _fill(monkeypatch, analytics, 500, budget_s=3600.0, fill=False)
    assert (result.outcome, argvs, analytics.orders, analytics.rebuilds) == ("empty", [], 0, 0)
