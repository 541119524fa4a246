"""Latency of the analytics read model at a seeded size: the service's three queries uncached, and the
facade's cached path.

```bash
python -m perf.analytics_bench [--orders 100000] [--days 180] [--operations 1200000] [--budget-s 600]
    [--repeat 30] [--cached-repeat 200] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
    [--no-sqlite] [--queries partner,flow,metal] [--json FILE]
python -m perf.analytics_bench --postgres postgresql://postgres@127.0.0.1:5432/postgres --database NAME
```

With ``--database NAME`` (PostgreSQL only, no SQLite run) nothing is seeded: the service reads the read
model that database already holds, e.g. the data generator's history (``python -m perf.datagen``) after
``mesctl analytics rebuild --from-services`` filled its analytics schema (``python -m perf.web_bench
--database NAME --import-analytics`` does that); the database is kept.

For each database (SQLite always unless ``--no-sqlite``; PostgreSQL with ``--postgres ADMIN_URL``: a
database ``mes_analytics_bench_<random>`` of its own, dropped at the end):

1. **The service in process** (``services.analytics.bootstrap.start``, no NATS: the API alone, migrated
   on start) on a free port.
2. **A seeded history** through ``ImportFacts`` (:class:`clients.AnalyticsClient`): ``--orders`` orders of
   24 partners over ``--days`` days up to today's midnight (UTC), 1-5 lines each (mean ~3), the demo
   catalogue's styles and alloys; shipped, cancelled (1.5 %) or in production (the last two weeks). Orders
   go in a shuffled order of their days, so any prefix spreads over the whole history; each carries its
   operations (every step of every line's routing at the demo's work centers, weighed in and out, finished
   by the demo operators) with the probability that gives ``--operations`` in all. When the load is on
   course to take more than ``--budget-s`` seconds, no more operations are attached once 200,000 are in
   (the orders still all go in): the report gives what was loaded.
3. **Uncached**: GetPartnerAnalytics, GetFlowAnalytics, GetMetalAnalytics over the last 7, 30 and 90 days
   in buckets of a day and of a week, ``--repeat`` calls each in turn (the service keeps no cache): p50,
   p95 and the answer's size.
4. **Profile** of the slowest of those (the p95), 5 calls: the wall time per call, the time of each SQL
   statement (SQLAlchemy's cursor events, execution only), and cProfile of this process, which runs the
   service (``py-spy`` is not installed here; the database drivers' threads are not in cProfile's view:
   their time shows as the event loop waiting in ``select``).
5. **Cached** (first database only): a facade (``python -m graphql_facade``, no NATS, shipped cache
   settings) with ``MES_FACADE_ANALYTICS_ADDR`` pointing at the service; ``partnerAnalytics``,
   ``flowAnalytics``, ``metalAnalytics`` with the web pages' selections (30 days, by day), one warm-up each
   then ``--cached-repeat`` POSTs: p50 and p95 at the client, and the facade's cache lookups (all hits).

Targets (G-D10): uncached p95 ≤ 300 ms, cached p95 ≤ 10 ms. The machine's load average is recorded at
each step. Progress goes to stderr, the markdown report to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from google.protobuf.timestamp_pb2 import Timestamp
from graphql import FieldNode, OperationDefinitionNode, parse, print_ast
from sqlalchemy import event
from sqlalchemy.engine import Engine

from clients import AnalyticsClient, ClientConfig
from clients.analytics import make_window
from graphql_facade.web.app_pages import document_text
from mes.analytics.v1 import analytics_pb2 as pb
from mes_platform.config import ServiceSettings
from mes_stack import demo_data as d
from perf._common import response_cache_lookups, say
from perf._stack import free_ports
from perf._stats import load_average, quantile
from services.analytics.bootstrap import App, start

__all__ = ["BenchOptions", "main"]

ROOT = Path(__file__).resolve().parents[1]
#: The service's credential for this run (a service principal may import; operators may read).
TOKEN = "mes-dev-token"
OPERATOR_TOKEN = "mes-dev-operator"
WINDOWS = (7, 30, 90)
GRAINS = {"day": pb.GRAIN_DAY, "week": pb.GRAIN_WEEK}
QUERIES = ("partner", "flow", "metal")
#: Facts per ImportFacts call (the service takes at most 10,000 of each).
BATCH_ORDERS = 500
BATCH_OPERATIONS = 2_000
#: The fallback size of the operations when the spec's would take longer than the budget.
FALLBACK_OPERATIONS = 200_000
PARTNERS = tuple(f"partner-{n:02d}" for n in range(1, 25))
_SAY_EVERY_S = 15.0


@dataclass(frozen=True)
class BenchOptions:
    orders: int = 100_000
    days: int = 180
    operations: int = 1_200_000
    budget_s: float = 600.0
    repeat: int = 30
    cached_repeat: int = 200
    postgres: str | None = None
    sqlite: bool = True
    seed: int = 1
    #: An existing database whose analytics schema is read as it is (nothing seeded, nothing dropped).
    database: str | None = None
    #: The uncached queries timed (all three by default).
    queries: tuple[str, ...] = QUERIES


# -- the seeded history ------------------------------------------------------------------------------------------


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


@dataclass(frozen=True)
class _Catalogue:
    styles: tuple[d.StyleDef, ...]
    alloys: tuple[str, ...]
    centers: dict[str, tuple[str, ...]]
    operators: tuple[str, ...]
    metal_mg: dict[str, int]
    steps_per_line: float

    @classmethod
    def demo(cls) -> _Catalogue:
        centers: dict[str, list[str]] = {}
        for wc in d.WORK_CENTERS:
            centers.setdefault(wc.work_center_type, []).append(wc.code)
        styles = tuple(d.STYLES)
        metal = {s.sku: next(b.weight_mg for b in s.bill_of_materials if b.kind == "METAL") for s in styles}
        steps = statistics.fmean(len([r for r in s.routing if not r.optional]) + 0.3 for s in styles)
        return cls(
            styles=styles,
            alloys=tuple(a.code for a in d.ALLOYS),
            centers={k: tuple(v) for k, v in centers.items()},
            operators=tuple(o.code for o in d.OPERATORS if not o.supervisor),
            metal_mg=metal,
            steps_per_line=steps,
        )


@dataclass
class _Order:
    fact: pb.OrderFact
    operations: list[pb.OperationFact] = field(default_factory=list)


class History:
    """The seeded history, made order by order (days shuffled, so that any prefix covers every day)."""

    MEAN_LINES = 3.0

    def __init__(self, options: BenchOptions, end: datetime) -> None:
        self.options = options
        self.end = end
        self.start = end - timedelta(days=options.days)
        self.catalogue = _Catalogue.demo()
        self.rng = random.Random(options.seed)
        expected = options.orders * self.MEAN_LINES * self.catalogue.steps_per_line * 0.985
        self.share_with_operations = min(1.0, options.operations / expected) if expected else 0.0
        weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(PARTNERS))]
        self._partner_weights = weights

    def orders(self) -> Iterator[_Order]:
        rng = self.rng
        per_day = self.options.orders / self.options.days
        counts = [int(per_day * (day + 1)) - int(per_day * day) for day in range(self.options.days)]
        days = [day for day, count in enumerate(counts) for _ in range(count)]
        rng.shuffle(days)
        for number, day in enumerate(days):
            submit = self.start + timedelta(days=day, seconds=rng.uniform(6 * 3600, 20 * 3600))
            yield self._order(f"bench-{number:07d}", submit, rng.random() < self.share_with_operations)

    def _order(self, order_id: str, submit: datetime, with_operations: bool) -> _Order:
        rng = self.rng
        cat = self.catalogue
        partner = rng.choices(PARTNERS, weights=self._partner_weights)[0]
        lines = []
        for _ in range(rng.choices((1, 2, 3, 4, 5), weights=(12, 20, 30, 22, 16))[0]):
            style = rng.choice(cat.styles)
            lines.append((style, rng.choice(cat.alloys), rng.choices((1, 2, 3, 4, 6), weights=(40, 28, 14, 10, 8))[0]))
        fact = pb.OrderFact(
            order_id=order_id,
            partner_id=partner,
            submit_time=_ts(submit),
            due_time=_ts(submit + timedelta(days=rng.randint(7, 28))),
            lines=[pb.OrderLineFact(style_code=s.sku, alloy_code=a, quantity=q) for s, a, q in lines],
        )
        order = _Order(fact)
        if rng.random() < 0.015:  # cancelled by its partner, before any release
            fact.cancel_time.CopyFrom(_ts(min(submit + timedelta(hours=rng.uniform(1, 30)), self.end)))
            return order
        release = submit + timedelta(minutes=rng.uniform(2, 90))
        if release >= self.end:
            return order
        fact.release_time.CopyFrom(_ts(release))
        last = release
        for number, (style, alloy, quantity) in enumerate(lines, start=1):
            finished = self._line(order, number, style, alloy, quantity, release, with_operations)
            last = max(last, finished) if finished is not None else self.end
        if last < self.end - timedelta(hours=4):
            fact.ship_time.CopyFrom(_ts(last + timedelta(hours=rng.uniform(1, 20))))
        return order

    def _line(
        self,
        order: _Order,
        number: int,
        style: d.StyleDef,
        alloy: str,
        quantity: int,
        release: datetime,
        with_operations: bool,
    ) -> datetime | None:
        """The line's operations (when ``with_operations``); when it finished (None: still in production)."""
        rng = self.rng
        cat = self.catalogue
        steps = [s for s in style.routing if not s.optional or rng.random() < 0.3]
        weigh_in = round(cat.metal_mg[style.sku] * quantity * rng.uniform(1.22, 1.32))
        at = release
        for step in steps:
            ready = at
            start = ready + timedelta(minutes=rng.expovariate(1 / 180))
            finish = start + timedelta(minutes=step.expected_minutes * quantity * rng.uniform(0.6, 1.6))
            op = pb.OperationFact(
                name=f"workOrders/{order.fact.order_id}-{number}/operations/{step.sequence}",
                order_id=order.fact.order_id,
                operation_code=step.operation_code,
                work_center=f"workCenters/{rng.choice(cat.centers[step.work_center_type])}",
                alloy_code=alloy,
                loss_tolerance_per_mille=step.loss_tolerance_per_mille,
                ready_time=_ts(ready),
                release_time=_ts(release),
            )
            if ready >= self.end:
                return None
            if with_operations:
                order.operations.append(op)
            if start >= self.end:
                op.status = "READY"
                return None
            op.start_time.CopyFrom(_ts(start))
            if finish >= self.end:
                op.status = "IN_PROGRESS"
                op.weigh_in_mg = weigh_in
                return None
            tolerance = step.loss_tolerance_per_mille
            per_mille = tolerance * (rng.uniform(1.05, 1.8) if rng.random() < 0.04 else rng.uniform(0.1, 0.9))
            lost = round(weigh_in * per_mille / 1000)
            scrap = round(weigh_in * rng.uniform(0.0, 0.02)) if tolerance else 0
            op.status = "FINISHED"
            op.finish_time.CopyFrom(_ts(finish))
            op.paused_seconds = rng.choice((0, 0, 0, 300, 900))
            op.weigh_in_mg, op.weigh_out_mg, op.scrap_returned_mg = weigh_in, weigh_in - lost - scrap, scrap
            op.finished_by = rng.choice(cat.operators)
            weigh_in = weigh_in - lost - scrap
            at = finish
        return at


@dataclass
class LoadReport:
    orders: int = 0
    operations: int = 0
    seconds: float = 0.0
    capped: bool = False
    load_average: str = ""


async def load_history(client: AnalyticsClient, options: BenchOptions, end: datetime) -> LoadReport:
    """Import the seeded history; stops attaching operations past the budget (once 200,000 are in)."""
    history = History(options, end)
    report = LoadReport()
    started = time.perf_counter()
    last_say = started
    orders: list[pb.OrderFact] = []
    operations: list[pb.OperationFact] = []
    wanted = min(options.operations, int(options.orders * History.MEAN_LINES * history.catalogue.steps_per_line))

    async def flush() -> None:
        if not orders and not operations:
            return
        response = await client.import_facts(orders=orders, operations=operations, timeout=300.0)
        report.orders += response.orders
        report.operations += response.operations
        orders.clear()
        operations.clear()

    for order in history.orders():
        ops = order.operations
        if report.capped:
            ops = []
        if len(operations) + len(ops) > BATCH_OPERATIONS or len(orders) >= BATCH_ORDERS:
            await flush()
            elapsed = time.perf_counter() - started
            if not report.capped and report.operations >= FALLBACK_OPERATIONS and wanted > report.operations:
                projected = elapsed * wanted / report.operations
                if projected > options.budget_s:
                    report.capped = True
                    say(
                        f"  loading {wanted:,} operations would take ~{projected:.0f} s (> {options.budget_s:.0f} s):"
                        f" no more operations after {report.operations:,}"
                    )
                    ops = []
            if time.perf_counter() - last_say > _SAY_EVERY_S:
                last_say = time.perf_counter()
                say(f"  imported {report.orders:,} orders, {report.operations:,} operations in {elapsed:.0f} s")
        orders.append(order.fact)
        operations.extend(ops)
    await flush()
    report.seconds = time.perf_counter() - started
    report.load_average = load_average()
    return report


# -- the uncached queries ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    query: str
    days: int
    grain: str

    @property
    def label(self) -> str:
        return f"{self.query} {self.days} d / {self.grain}"


@dataclass
class Timing:
    label: str
    n: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    answer_bytes: int
    load_average: str


def call(client: AnalyticsClient, case: Case, end: datetime) -> Callable[[], Awaitable[Any]]:
    window = make_window(end - timedelta(days=case.days), end, GRAINS[case.grain])
    if case.query == "partner":
        return lambda: client.get_partner_analytics(window=window, timeout=120.0)
    if case.query == "flow":
        return lambda: client.get_flow_analytics(window=window, timeout=120.0)
    return lambda: client.get_metal_analytics(window=window, timeout=120.0)


async def time_uncached(
    client: AnalyticsClient, end: datetime, repeat: int, queries: Sequence[str] = QUERIES
) -> list[Timing]:
    """Every case of ``queries`` ``repeat`` times, the cases in turn (one round after another)."""
    cases = [Case(q, days, grain) for q in queries for days in WINDOWS for grain in GRAINS]
    calls = {case: call(client, case, end) for case in cases}
    samples: dict[Case, list[float]] = {case: [] for case in cases}
    sizes: dict[Case, int] = {}
    for case in cases:  # one call each first: the answers' sizes, and a check that every case answers
        sizes[case] = (await calls[case]()).ByteSize()
    for round_ in range(repeat):
        for case in cases:
            began = time.perf_counter()
            await calls[case]()
            samples[case].append((time.perf_counter() - began) * 1000.0)
        if round_ % 5 == 4:
            say(f"  uncached round {round_ + 1}/{repeat}")
    average = load_average()
    return [
        Timing(
            case.label,
            len(values),
            quantile(values, 0.5),
            quantile(values, 0.95),
            max(values),
            sizes[case],
            average,
        )
        for case, values in samples.items()
    ]


class _SqlClock:
    """Time spent in each SQL statement (SQLAlchemy's cursor events on every engine), by its first words."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self._began: dict[int, float] = {}

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._began[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        began = self._began.pop(id(cursor), None)
        if began is None:
            return
        key = " ".join(statement.split())[:110]
        entry = self.totals.setdefault(key, [0.0, 0.0])
        entry[0] += time.perf_counter() - began
        entry[1] += 1

    def __enter__(self) -> _SqlClock:
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)

    def table(self, calls: int) -> str:
        rows = sorted(self.totals.items(), key=lambda item: -item[1][0])
        lines = [f"SQL statements (execution, rows not fetched), per call of {calls}:"]
        lines += [f"  {total / calls * 1000:8.1f} ms  x{n / calls:.0f}  {sql}" for sql, (total, n) in rows[:8]]
        return "\n".join(lines)


async def profile(client: AnalyticsClient, end: datetime, case: Case, calls: int = 5) -> str:
    """``calls`` calls of ``case`` (the service runs in this process): wall time per call, the SQL statements'
    time, and cProfile's view of this thread (the database drivers' own threads are not in it: their time
    shows as the event loop waiting in ``select``)."""
    run = call(client, case, end)
    with _SqlClock() as sql:
        began = time.perf_counter()
        for _ in range(calls):
            await run()
        wall = (time.perf_counter() - began) / calls
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        await run()
    profiler.disable()
    out = io.StringIO()
    out.write(f"wall time per call (without the profiler): {wall * 1000:.0f} ms\n{sql.table(calls)}\n\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(r"services/analytics", 15)
    return out.getvalue().replace(str(ROOT) + "/", "")


# -- the facade's cached path ------------------------------------------------------------------------------------


def field_document(page_file: str, root_field: str) -> str:
    """A query of one root field with the selection the web page asks for, taking ``$from``, ``$to`` and
    ``$grain`` (and nothing else)."""
    document = parse(document_text(page_file))
    operation = next(node for node in document.definitions if isinstance(node, OperationDefinitionNode))
    node = next(
        sel for sel in operation.selection_set.selections if isinstance(sel, FieldNode) and sel.name.value == root_field
    )
    assert node.selection_set is not None
    selection = print_ast(node.selection_set)
    return (
        f"query Bench($from: DateTime!, $to: DateTime!, $grain: Grain!) {{\n"
        f"  {root_field}(from: $from, to: $to, grain: $grain) {selection}\n}}"
    )


FACADE_FIELDS = {
    "partnerAnalytics": ("partners.graphql", "partnerAnalytics"),
    "flowAnalytics": ("analytics.graphql", "flowAnalytics"),
    "metalAnalytics": ("metal.graphql", "metalAnalytics"),
}


@contextlib.asynccontextmanager
async def facade_process(analytics_port: int, workdir: Path) -> Any:
    """``python -m graphql_facade`` on free ports, reading analytics from ``analytics_port`` (no NATS)."""
    port, metrics_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MES_") and k not in ("NATS_URL", "REDIS_URL")}
    env.update(
        {
            "MES_FACADE_HOST": "127.0.0.1",
            "MES_FACADE_PORT": str(port),
            "MES_FACADE_METRICS_HOST": "127.0.0.1",
            "MES_FACADE_METRICS_PORT": str(metrics_port),
            "MES_FACADE_ANALYTICS_ADDR": f"127.0.0.1:{analytics_port}",
            "MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": "100000000",
            "MES_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")]),
        }
    )
    log = (workdir / "facade.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "graphql_facade", cwd=ROOT, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/livez")).status_code == 200:
                        break
                if process.returncode is not None:
                    raise RuntimeError(f"the facade exited ({process.returncode}); see {workdir / 'facade.log'}")
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the facade did not start within 60 s")
        yield port, metrics_port
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def cache_lookups(metrics_port: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    return response_cache_lookups(text)


async def time_cached(analytics_port: int, end: datetime, repeat: int, workdir: Path) -> list[Timing]:
    """Each analytics field through one facade: a warm-up, then ``repeat`` POSTs (30 days, by day)."""
    variables = {"from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat(), "grain": "DAY"}
    headers = {"authorization": f"Bearer {OPERATOR_TOKEN}"}
    results = []
    async with (
        facade_process(analytics_port, workdir) as (port, metrics_port),
        httpx.AsyncClient(timeout=60.0, trust_env=False) as http,
    ):
        url = f"http://127.0.0.1:{port}/graphql"
        for name, (page_file, root) in FACADE_FIELDS.items():
            body = {"query": field_document(page_file, root), "variables": variables}
            warm = await http.post(url, json=body, headers=headers)
            answer = warm.json()
            if warm.status_code != 200 or answer.get("errors") or not (answer.get("data") or {}).get(root):
                raise RuntimeError(f"{name} through the facade failed: {warm.status_code} {warm.text[:500]}")
            before = await cache_lookups(metrics_port)
            samples = []
            for _ in range(repeat):
                began = time.perf_counter()
                response = await http.post(url, json=body, headers=headers)
                samples.append((time.perf_counter() - began) * 1000.0)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {response.status_code}")
            after = await cache_lookups(metrics_port)
            delta = {
                k: after.get(k, 0.0) - before.get(k, 0.0) for k in after if after.get(k, 0.0) != before.get(k, 0.0)
            }
            label = f"{name} 30 d / day (facade, cache: " + ", ".join(f"{k} {v:.0f}" for k, v in delta.items()) + ")"
            results.append(
                Timing(
                    label,
                    len(samples),
                    quantile(samples, 0.5),
                    quantile(samples, 0.95),
                    max(samples),
                    len(warm.content),
                    load_average(),
                )
            )
    return results


# -- one database --------------------------------------------------------------------------------------------------


@dataclass
class BackendResult:
    database: str
    load: LoadReport
    uncached: list[Timing]
    profiled: str
    profile_text: str
    cached: list[Timing] = field(default_factory=list)
    wall_s: float = 0.0


def settings_for(url: str, data_dir: Path) -> ServiceSettings:
    return ServiceSettings.from_env(
        "analytics",
        env={
            "MES_ANALYTICS_DATABASE_URL": url,
            "MES_DATA_DIR": str(data_dir),
            "MES_LOG_LEVEL": "WARNING",
            "MES_ANALYTICS_GRPC_HOST": "127.0.0.1",
        },
    )


async def held_history(client: AnalyticsClient) -> LoadReport:
    """What an existing read model holds (``--database``): nothing is loaded."""
    status = await client.get_projection_status()
    if status.orders == 0:
        raise SystemExit(
            "the database's analytics read model is empty: fill it first (mesctl analytics rebuild --from-services)"
        )
    return LoadReport(orders=status.orders, operations=status.operations, load_average=load_average())


async def run_backend(
    name: str, url: str, options: BenchOptions, workdir: Path, *, cached: bool, seed: bool = True
) -> BackendResult:
    began = time.perf_counter()
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    say(f"[{name}] starting the analytics service (load average {load_average()})")
    service: App = await start(settings_for(url, workdir), port=0)
    try:
        config = ClientConfig(analytics_addr=f"127.0.0.1:{service.port}", token=TOKEN)
        async with AnalyticsClient(config) as client:
            if seed:
                say(
                    f"[{name}] importing {options.orders:,} orders over {options.days} days"
                    f" (target operations {options.operations:,})"
                )
                load = await load_history(client, options, end)
                say(f"[{name}] loaded {load.orders:,} orders, {load.operations:,} operations in {load.seconds:.0f} s")
            else:
                load = await held_history(client)
            status = await client.get_projection_status()
            say(f"[{name}] the service holds {status.orders:,} orders, {status.operations:,} operations")
            uncached = await time_uncached(client, end, options.repeat, options.queries)
            slowest = max(uncached, key=lambda t: t.p95_ms)
            case = next(
                Case(q, days, g)
                for q in options.queries
                for days in WINDOWS
                for g in GRAINS
                if Case(q, days, g).label == slowest.label
            )
            say(f"[{name}] profiling {case.label}")
            profile_text = await profile(client, end, case)
        result = BackendResult(name, load, uncached, case.label, profile_text)
        if cached:
            say(f"[{name}] the facade's cached path")
            result.cached = await time_cached(service.port, end, options.cached_repeat, workdir)
    finally:
        await service.aclose()
    result.wall_s = time.perf_counter() - began
    return result


async def _create_database(admin_url: str) -> tuple[str, str]:
    name = "mes_analytics_bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return name, f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


# -- the report ----------------------------------------------------------------------------------------------------


def _verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "FAIL"


def report(results: Sequence[BackendResult], options: BenchOptions) -> str:
    out = [f"## Analytics queries (G-D10), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", ""]
    for result in results:
        load = result.load
        capped = " (capped by the load budget)" if load.capped else ""
        loaded = (
            f"The read model held {load.orders:,} orders and {load.operations:,} operations (nothing loaded; load"
            f" average at the start: {load.load_average}); whole run {result.wall_s:.0f} s."
            if options.database
            else f"Loaded {load.orders:,} orders over {options.days} days and {load.operations:,} operations{capped}"
            f" through ImportFacts in {load.seconds:.0f} s (load average after: {load.load_average});"
            f" whole run {result.wall_s:.0f} s."
        )
        out += [
            f"### {result.database}",
            "",
            loaded,
            "",
            "| query | n | p50 | p95 | max | answer | target p95 ≤ 300 ms | load average (1/5/15 min) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t in result.uncached:
            out.append(
                f"| {t.label} | {t.n} | {t.p50_ms:.1f} ms | {t.p95_ms:.1f} ms | {t.max_ms:.1f} ms |"
                f" {t.answer_bytes:,} B | {_verdict(t.p95_ms, 300.0)} | {t.load_average} |"
            )
        if result.cached:
            out += [
                "",
                "| facade, cached | n | p50 | p95 | max | answer | target p95 ≤ 10 ms | load average |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for t in result.cached:
                out.append(
                    f"| {t.label} | {t.n} | {t.p50_ms:.2f} ms | {t.p95_ms:.2f} ms | {t.max_ms:.2f} ms |"
                    f" {t.answer_bytes:,} B | {_verdict(t.p95_ms, 10.0)} | {t.load_average} |"
                )
        out += [
            "",
            f"Profile of the slowest ({result.profiled}), 5 calls, cProfile:",
            "",
            "```",
            result.profile_text.strip(),
            "```",
            "",
        ]
    return "\n".join(out)


async def run(options: BenchOptions) -> list[BackendResult]:
    results: list[BackendResult] = []
    with tempfile.TemporaryDirectory(prefix="mes-analytics-bench-") as tmp:
        workdir = Path(tmp)
        if options.sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'analytics.db'}"
            results.append(await run_backend("SQLite", url, options, workdir, cached=True))
        if options.postgres and options.database:
            admin = options.postgres.replace("postgresql+asyncpg://", "postgresql://", 1)
            base, _, _ = admin.rpartition("/")
            url = f"{base}/{options.database}".replace("postgresql://", "postgresql+asyncpg://", 1)
            label = f"PostgreSQL, `{options.database}` as it is"
            results.append(await run_backend(label, url, options, workdir, cached=not results, seed=False))
        elif options.postgres:
            admin = options.postgres.replace("postgresql+asyncpg://", "postgresql://", 1)
            name, url = await _create_database(admin)
            try:
                results.append(await run_backend("PostgreSQL", url, options, workdir, cached=not results))
            finally:
                await _drop_database(admin, name)
    return results


def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchOptions, str | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--operations", type=int, default=1_200_000)
    parser.add_argument("--budget-s", type=float, default=600.0)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cached-repeat", type=int, default=200)
    parser.add_argument("--postgres", default=None, help="an admin URL of PostgreSQL (a database of its own is made)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database", default=None, help="with --postgres: read this database's analytics schema as it is (no seeding)"
    )
    parser.add_argument(
        "--queries", default=",".join(QUERIES), help=f"comma-separated, of {', '.join(QUERIES)} (the uncached timings)"
    )
    parser.add_argument("--json", default=None, help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    queries = tuple(q for q in args.queries.split(",") if q)
    if not queries or set(queries) - set(QUERIES):
        parser.error(f"--queries takes a comma-separated list of {', '.join(QUERIES)}")
    options = BenchOptions(
        orders=args.orders,
        days=args.days,
        operations=args.operations,
        budget_s=args.budget_s,
        repeat=args.repeat,
        cached_repeat=args.cached_repeat,
        postgres=args.postgres,
        sqlite=not args.no_sqlite and not args.database,
        seed=args.seed,
        database=args.database,
        queries=queries,
    )
    if args.database and not args.postgres:
        parser.error("--database needs --postgres (the admin URL of the server holding it)")
    return options, args.json


def main(argv: Sequence[str] | None = None) -> int:
    options, json_path = parse_args(argv)
    results = asyncio.run(run(options))
    print(report(results, options))
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
