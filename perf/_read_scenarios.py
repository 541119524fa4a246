"""The read scenarios (see ``perf/_read_bench.py``): servers, answer checks, windows, target rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from perf._common import Say
from perf._pg import PostgresProcesses
from perf._read_bench import (
    FACADE_LIMITS,
    ReadPlan,
    Target,
    Windows,
    _ceiling,
    _check_same,
    _post,
    body,
    cpu_ms,
    describe,
    med,
    rates,
    values,
)
from perf._report import TargetRow, fmt_ms, spread
from perf._sqlboard import APPLICATION_NAME
from perf._stack import BenchStack, HttpServer, free_ports

__all__ = ["ReadScenarios"]

_SERVICES = ("orders", "inventory", "production", "webhooks")


def _p50(runs: list[dict[str, Any]]) -> str:
    cpu = spread(cpu_ms(runs), lambda v: f"{v:.1f} ms")
    return f"p50 {spread(values(runs, 'p50_ms'), fmt_ms)}, CPU {cpu}/request"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "—"


class ReadScenarios:
    def __init__(
        self, plan: ReadPlan, big: BenchStack, small: BenchStack, pg: PostgresProcesses, windows: Windows, say: Say
    ) -> None:
        self.plan, self.big, self.small, self.pg, self.w, self.say = plan, big, small, pg, windows, say
        self.rows = windows.results.rows
        self.notes = windows.results.notes

    def _pids(self, stack: BenchStack, server: HttpServer, *, sql: bool = False, alone: bool = False) -> Any:
        """The server processes of a target: the HTTP server, the services and nats-server behind a
        facade, and PostgreSQL's (the baseline's own backends for the baseline, the others else);
        ``alone``: the HTTP server only (the pre-serialized ceiling)."""

        async def pids() -> list[int]:
            if alone:
                return [server.pid]
            services = [p for svc in _SERVICES for p in stack.service_pids(svc)] + stack.pids(["nats"])
            own = [server.pid] + ([] if sql else services)
            if sql:
                return own + await self.pg.counted(application=APPLICATION_NAME)
            return own + await self.pg.counted(not_application=APPLICATION_NAME)

        return pids

    async def run(self, workdir: Path) -> None:
        big, plan = self.big, self.plan
        say = self.say
        uncached = await big.start_facade("facade-uncached", {**FACADE_LIMITS, "MES_FACADE_CACHE": "0"})
        cached = await big.start_facade("facade-cached", FACADE_LIMITS)
        port = free_ports(1)[0]
        argv = [sys.executable, "-m", "perf._sqlboard", "--port", str(port), "--dsn", str(big.database_url)]
        sql = await big.start_http("sql-baseline", argv, port)
        board = body("board", "Board", {"first": 100})
        dash = body("dashboard", "Dashboard", {"first": 100})
        say("read: checking the answers (facade uncached, direct SQL, facade cached)")
        board_answer = await _post(uncached, board)
        await _check_same("board: facade vs direct-SQL baseline", board_answer, await _post(sql, board))
        await _post(cached, board)
        board_cached = await _post(cached, board)
        await _check_same("board: cached vs uncached", board_answer, board_cached)
        dash_answer = await _post(uncached, dash)
        await _post(cached, dash)
        dash_cached = await _post(cached, dash)
        await _check_same("dashboard: cached vs uncached", dash_answer, dash_cached)
        n = len(json.loads(board_answer)["data"]["orders"]["edges"])
        self.notes.append(
            f"board: {n} orders, {len(board_answer):,} bytes (cached {len(board_cached):,}); dashboard:"
            f" {len(dash_answer):,} bytes; direct-SQL answer JSON-equal to the facade's (checked before the windows)"
        )
        ceil_board = await _ceiling(big, "ceiling-board", board_cached, workdir)
        ceil_dash = await _ceiling(big, "ceiling-dashboard", dash_cached, workdir)
        facade_pids = self._pids(big, uncached)
        sql_pids = self._pids(big, sql, sql=True)
        c = plan.conns
        say("read: uncached board and dashboard against the direct-SQL baseline")
        unc = await self.w.series(
            [
                Target("board uncached 16c", uncached, board, c, facade_pids),
                Target("board direct SQL 16c", sql, board, c, sql_pids),
                Target("board uncached 1c", uncached, board, 1, facade_pids),
                Target("board direct SQL 1c", sql, board, 1, sql_pids),
                Target("dashboard uncached 16c", uncached, dash, c, facade_pids),
            ]
        )
        self._uncached_rows(unc)
        say("read: cached board and dashboard against the pre-serialized ceiling")
        cached_pids = self._pids(big, cached)
        ceil_b_pids = self._pids(big, ceil_board, alone=True)
        ceil_d_pids = self._pids(big, ceil_dash, alone=True)
        hot = await self.w.series(
            [
                Target("board cached 16c", cached, board, c, cached_pids),
                Target("board ceiling 16c", ceil_board, board, c, ceil_b_pids),
                Target("dashboard cached 16c", cached, dash, c, cached_pids),
                Target("dashboard ceiling 16c", ceil_dash, dash, c, ceil_d_pids),
                Target(f"board cached open {plan.open_rate:.0f}/s", cached, board, 0, cached_pids, plan.open_rate),
                Target(f"dashboard cached open {plan.open_rate:.0f}/s", cached, dash, 0, cached_pids, plan.open_rate),
            ]
        )
        self._cached_rows(hot)
        say("read: page growth")
        await self._page_growth(uncached)
        say("read: busy floor (cached board)")
        from perf._busy_bench import busy_floor  # it uses the helpers of _read_bench as this module does

        self.rows.extend(await busy_floor(self.w, big, cached, board, cached_pids))

    def _uncached_rows(self, r: dict[str, list[dict[str, Any]]]) -> None:
        b16, s16, b1, s1, d16 = (r[k] for k in r)
        rate, base = med(rates(b16)), med(rates(s16))
        self.rows.append(
            TargetRow(
                f"uncached board, {self.plan.conns} connections (wrk)",
                describe(b16),
                "direct SQL: " + describe(s16),
                _ratio(rate, base),
                "≥ 80 req/s",
                rate >= 80,
                "≥ 0.7x direct SQL",
                base > 0 and rate / base >= 0.7,
            )
        )
        p50, base50 = med(values(b1, "p50_ms")), med(values(s1, "p50_ms"))
        self.rows.append(
            TargetRow(
                "uncached board, 1 connection (wrk)",
                _p50(b1),
                "direct SQL: " + _p50(s1),
                _ratio(p50, base50) + " (p50)",
                "p50 ≤ 12 ms",
                p50 <= 12.0,
                "p50 ≤ 1.5x direct SQL",
                base50 > 0 and p50 / base50 <= 1.5,
            )
        )
        rate_d = med(rates(d16))
        self.rows.append(
            TargetRow(
                f"uncached full dashboard, {self.plan.conns} connections (wrk)",
                describe(d16),
                "—",
                "—",
                "≥ 15 req/s",
                rate_d >= 15,
                "≥ 30 req/s",
                rate_d >= 30,
            )
        )

    def _cached_rows(self, r: dict[str, list[dict[str, Any]]]) -> None:
        bc, bceil, dc, dceil, bopen, dopen = (r[k] for k in r)
        for what, mine, ceil, open_runs in (("board", bc, bceil, bopen), ("dashboard", dc, dceil, dopen)):
            ratio = med(rates(mine)) / med(rates(ceil)) if med(rates(ceil)) else 0.0
            p99 = med(values(open_runs, "p99_ms"))
            self.rows.append(
                TargetRow(
                    f"cached {what}, {self.plan.conns} connections (wrk);"
                    f" p99 at open-loop {self.plan.open_rate:,.0f} req/s",
                    describe(mine) + f"; open loop: p99 {spread(values(open_runs, 'p99_ms'), fmt_ms)}",
                    "ceiling (Starlette, same bytes): " + describe(ceil),
                    f"{ratio:.2f}x",
                    "≥ 0.4x ceiling; p99 ≤ 5 ms",
                    ratio >= 0.4 and p99 <= 5.0,
                    "≥ 0.5x ceiling",
                    ratio >= 0.5,
                )
            )

    async def _page_growth(self, big_uncached: HttpServer) -> None:
        small_uncached = await self.small.start_facade(
            "facade-uncached-small", {**FACADE_LIMITS, "MES_FACADE_CACHE": "0"}
        )
        targets = []
        sizes = (f"{self.plan.orders:,} orders", f"{self.plan.small_orders:,} orders")
        for label, stack, server in ((sizes[0], self.big, big_uncached), (sizes[1], self.small, small_uncached)):
            first = body("board_page", "BoardPage", {"first": 100})
            answer = json.loads(await _post(server, first))
            cursor = answer["data"]["orders"]["pageInfo"]["endCursor"]
            following = body("board_page", "BoardPage", {"first": 100, "after": cursor})
            pids = self._pids(stack, server)
            targets += [
                Target(f"page 1 uncached 1c, {label}", server, first, 1, pids),
                Target(f"page 2 (keyset) uncached 1c, {label}", server, following, 1, pids),
            ]
        r = await self.w.series(targets)
        big1, big2, small1, small2 = (r[t.name] for t in targets)
        for what, big, small in (("board (first page)", big1, small1), ("next page by keyset", big2, small2)):
            grow = med(values(big, "p50_ms")) / med(values(small, "p50_ms")) if med(values(small, "p50_ms")) else 0.0
            self.rows.append(
                TargetRow(
                    f"page growth: {what}, p50 at 1 connection,"
                    f" {self.plan.orders:,} vs {self.plan.small_orders:,} orders",
                    f"p50 {spread(values(big, 'p50_ms'), fmt_ms)}",
                    f"{self.plan.small_orders:,} orders: p50 {spread(values(small, 'p50_ms'), fmt_ms)}",
                    f"{grow:.2f}x",
                    "≤ 1.2x",
                    grow <= 1.2,
                    "≤ 1.2x to 1,000,000 (outside CI)",
                    None,
                )
            )
