"""Partner edge: one partner's latency while another partner or strangers misbehave, against its
latency alone in the same run (SQLite, the shipped partner limits).

B (``northwind-gems``, STANDARD) polls its orders' status open loop at half its tier's request
limit, read from its own answer (600 requests/min: 5 requests/s). Its windows alternate::

    B alone, B + A flood, B alone, B + A hold, B alone, B + bad keys      (x reps)

* **A flood**: A (``aurora-jewels``, PLUS) sends ``partner_orders`` open loop at 10x its limit,
  ``min(requests/min / 60, restoreRate / actual cost)`` read from A's own answer;
* **A hold**: A keeps 200 requests of ``partner_heaviest`` (requested cost 1000, the most the
  partner schema allows under ``max_cost``) in flight, closed loop, one keep-alive connection each;
* **bad keys**: 500 requests/s, open loop, cycling over 300 invalid credentials: random strings
  and well-formed keys with a wrong checksum (``api_keys.issue()`` with its last character
  changed), and a few malformed headers; each from its own loopback address (127.0.1.x: a
  distributed flood, each address under the facade's per-address budget of failed attempts, so
  every request reaches the key check). B comes from 127.0.0.1.

Reported: B's p50/p99/n per case (pooled over the windows of the case) and the ratio to B alone,
B's answers other than 200, the other load's answers and achieved rates, every load generator's
CPU, the facade's and the services' CPU and the rest of the machine per window, and for the
bad-key windows the facade's ``AuthenticatePartner`` calls to the orders service (its ``/metrics`` port)
against the lookups B's own key needed in those windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import string
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mes_kernel import api_keys
from mes_stack.options import SERVICES
from perf._common import Pinned, Say, finish_load, gql, graphql_body, metrics_text, query, start_load, wait_quiet
from perf._report import Verdict, fmt_ms, fmt_rate
from perf._setup import BENCH_ALLOY, receive_metal, seed_orders, wait_for_catalogue, wait_until_settled
from perf._stack import BenchStack, HttpServer
from perf._stats import percentile

__all__ = ["EdgePlan", "EdgeResults", "run_edge"]

A, B = "aurora-jewels", "northwind-gems"  # demo partners: PLUS and STANDARD tiers
ALONE, FLOOD, HOLD, BAD_KEYS = "alone", "flood", "hold", "bad keys"
_POLICY = re.compile(r'"requests";q=(\d+);w=(\d+)')
_SAMPLE = re.compile(r"^(mes_facade_\w+_total)\{([^}]*)\} ([0-9.eE+-]+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
#: A source address per bad credential: 127.0.1.1 ... (at most 250 per /24).
_SOURCES_PER_NET = 250


@dataclass(frozen=True)
class EdgePlan(Pinned):
    reps: int = 3
    warmup_s: float = 2.0
    duration_s: float = 20.0
    flood_factor: float = 10.0
    hold_conns: int = 200
    bad_keys: int = 300
    bad_key_rate: float = 500.0
    #: Orders seeded (three for A, one for B in turn) before the windows.
    orders: int = 200
    pin: bool = True
    quiet_wait_s: float = 15.0
    #: Pause after a window with other load, so A's queue and held slots are gone before the next.
    settle_s: float = 1.0


@dataclass
class EdgeResults:
    verdicts: list[Verdict]
    windows: list[tuple[str, dict[str, Any]]]
    notes: list[str]
    #: One row per B window (see ``TABLE_HEADERS``).
    table: list[list[str]] = field(default_factory=list)


TABLE_HEADERS = (
    "window",
    "B p50",
    "B p99",
    "B n",
    "B non-2xx",
    "other load: answers",
    "other load: answered/s (200/s)",
    "load-gen CPU: B / other",
    "facade CPU",
    "services CPU",
    "rest of machine",
    "AuthenticatePartner calls",
)


# -- the load generator process ----------------------------------------------------------------


# -- the facade's counters -----------------------------------------------------------------------

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _counters(server: HttpServer) -> Samples:
    text = await metrics_text(server.metrics_url)
    return {
        (name, tuple(sorted(_LABEL.findall(labels)))): float(value) for name, labels, value in _SAMPLE.findall(text)
    }


def _delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """Increase of every sample of counter ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value - before.get(key, 0.0) for key, value in after.items() if key[0] == name and wanted <= set(key[1]))


def _by_label(before: Samples, after: Samples, name: str, label: str) -> dict[str, int]:
    out: Counter[str] = Counter()
    for key, value in after.items():
        if key[0] == name:
            labels = dict(key[1])
            grown = value - before.get(key, 0.0)
            if grown and label in labels:
                out[labels[label]] += round(grown)
    return dict(out)


# -- credentials ------------------------------------------------------------------------------


def _wrong_checksum(key: str) -> str:
    last = key[-1]
    wrong = key[:-1] + _BASE62[(_BASE62.index(last) + 1) % len(_BASE62)]
    assert not api_keys.has_valid_checksum(wrong)
    return wrong


def bad_credentials(count: int) -> list[tuple[str, list[list[str]]]]:
    """``count`` invalid credentials as (kind, headers): a few malformed headers, then random strings
    and well-formed keys with a wrong checksum in turn."""
    malformed: list[tuple[str, list[list[str]]]] = [
        ("malformed", [["X-API-Key", ""]]),  # present but empty
        ("malformed", [["X-API-Key", "mes_" + "A" * 8000]]),  # oversized
        ("malformed", [["X-API-Key", "mes_" + "\u00e9" * 32 + "000000"]]),  # latin-1, not ASCII
        ("malformed", [["X-API-Key", secrets.token_urlsafe(24)], ["X-API-Key", api_keys.issue()]]),  # twice
        ("malformed", [["X-API-Key", "mes_" + secrets.token_urlsafe(24)]]),  # legacy format (36 characters)
        ("malformed", [["X-API-Key", "Bearer " + api_keys.issue()]]),  # a scheme in the key header
        ("malformed", [["X-API Key", api_keys.issue()]]),  # not a header name: the HTTP parser's 400
    ]
    out = malformed[: min(len(malformed), count // 40)]  # a few: 7 of 300
    while len(out) < count:
        if len(out) % 2:
            out.append(("random string", [["X-API-Key", secrets.token_urlsafe(8 + secrets.randbelow(40))]]))
        else:
            out.append(("wrong checksum", [["X-API-Key", _wrong_checksum(api_keys.issue())]]))
    return out


def _source(i: int) -> str:
    return f"127.0.{1 + i // _SOURCES_PER_NET}.{1 + i % _SOURCES_PER_NET}"


# -- the run ---------------------------------------------------------------------------------


def _non_2xx(statuses: Mapping[str, int]) -> int:
    return sum(n for label, n in statuses.items() if not label.startswith("2"))


def _answered(result: Mapping[str, Any]) -> float:
    elapsed = float(result.get("elapsed_s", 0.0))
    counted = sum(n for label, n in result.get("statuses", {}).items() if label != "client_overrun")
    return counted / elapsed if elapsed else 0.0


def _pct(value: float) -> str:
    return f"{value:.0f} %"


class _Edge:
    def __init__(self, stack: BenchStack, plan: EdgePlan, say: Say, facade: HttpServer) -> None:
        self.stack, self.plan, self.say, self.facade = stack, plan, say, facade
        self.results = EdgeResults([], [], [])
        self.key_a, self.key_b = stack.partner_keys[A], stack.partner_keys[B]

    async def partner_limit(
        self, key: str, document: str, variables: Mapping[str, Any], operation: str
    ) -> dict[str, Any]:
        """What the partner's own answer says: its request limit (per s), the query's cost, its refill."""
        response = await gql(self.facade.url, document, variables, headers={"X-API-Key": key}, operation=operation)
        answer = response.json()
        if response.status_code != 200 or "errors" in answer:
            raise RuntimeError(f"{operation} failed: HTTP {response.status_code} {response.text[:300]}")
        cost = answer["extensions"]["cost"]
        found = _POLICY.search(response.headers.get("ratelimit-policy", ""))
        by_requests = int(found.group(1)) / int(found.group(2)) if found else float("inf")
        actual = max(1.0, float(cost["actualQueryCost"]))
        restore = float(cost["throttleStatus"]["restoreRate"])
        return {
            "by_requests": by_requests,
            "requested": float(cost["requestedQueryCost"]),
            "actual": actual,
            "restore": restore,
            "limit": min(by_requests, restore / actual),
        }

    async def quiet(self, label: str) -> float:
        busy = await wait_quiet(self.plan.quiet_wait_s)
        if busy >= 30.0:
            self.results.notes.append(f"{label}: started while the machine was {busy:.0f} % busy with other work")
        return busy

    def server_groups(self) -> dict[str, list[int]]:
        services = [p for s in SERVICES for p in self.stack.service_pids(s)]
        return {"services": [*services, self.stack.pid("nats")]}

    async def window(
        self, label: str, b_spec: dict[str, Any], other: tuple[str, dict[str, Any]] | None
    ) -> dict[str, Any]:
        """One window of B, with ``other`` load (its label and spec) running over it."""
        plan = self.plan
        busy = await self.quiet(label)
        before = await _counters(self.facade)
        groups = self.server_groups()
        other_process = None
        if other is not None:
            other_process = await start_load(other[1], cpus=plan.client_cpus, module="perf._edge_load")
            groups["other load generator"] = [other_process.pid]
            await asyncio.sleep(0.5)
        try:
            b_spec_groups = {**b_spec, "cpu_groups": groups}
            b_process = await start_load(b_spec_groups, cpus=plan.client_cpus, module="perf._edge_load")
            result = await finish_load(b_process, b_spec)
            other_result = await finish_load(other_process, other[1]) if other_process and other else None
        finally:
            if other_process is not None and other_process.returncode is None:  # B's generator failed
                with contextlib.suppress(ProcessLookupError):
                    other_process.kill()
                await other_process.wait()
        after = await _counters(self.facade)
        result["extra"]["busy_before_pct"] = busy
        result["extra"]["auth_calls"] = _delta(
            before, after, "mes_facade_backend_calls_total", method="AuthenticatePartner"
        )
        result["extra"]["key_lookups"] = _by_label(before, after, "mes_facade_api_key_lookups_total", "outcome")
        result["extra"]["key_refused"] = _by_label(before, after, "mes_facade_api_key_refused_total", "reason")
        result["extra"]["admission_refused"] = _by_label(before, after, "mes_facade_admission_refused_total", "reason")
        shown = {k: v for k, v in result.items() if k != "extra"}
        self.say(f"    {label}: {json.dumps(shown)}")
        kept = {k: v for k, v in result["extra"].items() if k not in ("latencies", "other")}
        self.results.windows.append((label, {**result, "extra": kept}))
        if other is not None and other_result is not None:
            self.say(f"    {other[0]}: {json.dumps(other_result['statuses'])}")
            self.results.windows.append((other[0], other_result))
            result["extra"]["other"] = other_result
            await asyncio.sleep(plan.settle_s)
        self.results.table.append(self.row(label, result))
        return result

    def row(self, label: str, r: Mapping[str, Any]) -> list[str]:
        extra = r["extra"]
        groups = extra.get("cpu_groups", {})
        other = extra.get("other")
        other_gen = groups.get("other load generator", 0.0)
        rest = max(0.0, float(r["other_cpu_pct"]) - groups.get("services", 0.0) - other_gen)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(other["statuses"].items())) if other else "—"
        rates = f"{_answered(other):,.1f} ({other['rate']:,.1f})" if other else "—"
        return [
            label,
            fmt_ms(float(r["p50_ms"])),
            fmt_ms(float(r["p99_ms"])),
            str(len(extra.get("latencies", []))),
            str(_non_2xx(r["statuses"]) + r["statuses"].get("200+errors", 0)),
            statuses,
            rates,
            f"{_pct(float(r['client_cpu_pct']))} / {_pct(other['client_cpu_pct']) if other else '—'}",
            _pct(float(r["server_cpu_pct"])),
            _pct(groups.get("services", 0.0)),
            _pct(rest),
            f"{extra['auth_calls']:.0f}",
        ]

    async def run(self, b_ids: list[str]) -> None:
        plan, notes = self.plan, self.results.notes
        # -- what each partner's own answers say ---------------------------------------------
        b_probe = await self.partner_limit(self.key_b, query("order_status"), {"id": b_ids[0]}, "OrderStatus")
        b_rate = b_probe["by_requests"] / 2.0
        notes.append(
            f"B ({B}, STANDARD as shipped): order_status polling over {len(b_ids)} of its orders at"
            f" {b_rate:g} req/s = half of its {b_probe['by_requests'] * 60:.0f} requests/min; cost"
            f" {b_probe['actual']:.0f} point(s) per query, {b_rate * b_probe['actual']:.0f} points/s against its"
            f" refill of {b_probe['restore']:.0f} points/s"
        )
        flood_vars = {"first": 20}
        a_probe = await self.partner_limit(self.key_a, query("partner_orders"), flood_vars, "PartnerOrders")
        flood_rate = plan.flood_factor * a_probe["limit"]
        notes.append(
            f"A ({A}, PLUS as shipped) flood: partner_orders(first: 20) at {plan.flood_factor:g} x"
            f" {a_probe['limit']:.1f} req/s = {flood_rate:.0f} req/s offered, open loop; its limit ="
            f" min({a_probe['by_requests']:.0f} req/s by requests/min, {a_probe['restore']:.0f} points/s ÷"
            f" {a_probe['actual']:.0f} points per query)"
        )
        heavy = query("partner_heaviest")
        heavy_probe = await self.partner_limit(self.key_a, heavy, {}, "PartnerHeaviest")
        over = await gql(
            self.facade.url,
            heavy.replace("orders(first: 99", "orders(first: 100"),
            {},
            headers={"X-API-Key": self.key_a},
            operation="PartnerHeaviest",
        )
        over_code = (over.json().get("errors") or [{}])[0].get("extensions", {}).get("code", "accepted")
        notes.append(
            f"A hold: {plan.hold_conns} requests in flight (closed loop) of queries/partner_heaviest.graphql,"
            f" requested cost {heavy_probe['requested']:.0f} (actual {heavy_probe['actual']:.0f} on A's"
            f" orders), the most under max_cost 1000; with one more order: {over_code}"
        )
        credentials = bad_credentials(plan.bad_keys)
        kinds = Counter(kind for kind, _ in credentials)
        notes.append(
            f"bad-key flood: {plan.bad_key_rate:g} req/s open loop over {len(credentials)} invalid credentials ("
            + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            + f"), each from its own address ({_source(0)}-{_source(len(credentials) - 1)}:"
            f" {plan.bad_key_rate / len(credentials):.2f} req/s per address, under the facade's default budget of"
            " 120 failed attempts/min per address); B from 127.0.0.1"
        )
        # -- the specs ------------------------------------------------------------------------
        window = {"warmup_s": plan.warmup_s, "duration_s": plan.duration_s}
        other_s = {"warmup_s": 0.0, "duration_s": plan.warmup_s + plan.duration_s + 1.0}
        b_spec = {
            **window,
            "mode": "open",
            "port": self.facade.port,
            "rate": b_rate,
            "max_inflight": 64,
            "requests": [
                {
                    "headers": [["X-API-Key", self.key_b]],
                    "body": graphql_body(query("order_status"), "OrderStatus", {"id": i}),
                }
                for i in b_ids
            ],
            "server_pids": [self.facade.pid],
            "return_latencies": True,
        }
        flood_body = graphql_body(query("partner_orders"), "PartnerOrders", flood_vars)
        a_headers = [["X-API-Key", self.key_a]]
        others: dict[str, tuple[str, dict[str, Any]]] = {
            FLOOD: (
                f"A flood x{plan.flood_factor:g} ({flood_rate:.0f} req/s offered)",
                {
                    **other_s,
                    "mode": "open",
                    "port": self.facade.port,
                    "rate": flood_rate,
                    "max_inflight": 256,
                    "requests": [{"headers": a_headers, "body": flood_body}],
                    "server_pids": [self.facade.pid],
                },
            ),
            HOLD: (
                f"A hold, {plan.hold_conns} conns of PartnerHeaviest",
                {
                    **other_s,
                    "mode": "closed",
                    "port": self.facade.port,
                    "concurrency": plan.hold_conns,
                    "requests": [{"headers": a_headers, "body": graphql_body(heavy, "PartnerHeaviest")}],
                    "server_pids": [self.facade.pid],
                },
            ),
            BAD_KEYS: (
                f"bad-key flood ({plan.bad_key_rate:g} req/s offered)",
                {
                    **other_s,
                    "mode": "open",
                    "port": self.facade.port,
                    "rate": plan.bad_key_rate,
                    "max_inflight": 256,
                    "requests": [
                        {"headers": headers, "body": flood_body, "source": _source(i)}
                        for i, (_, headers) in enumerate(credentials)
                    ],
                    "server_pids": [self.facade.pid],
                },
            ),
        }
        # -- the windows ------------------------------------------------------------------------
        runs: dict[str, list[dict[str, Any]]] = {case: [] for case in (ALONE, FLOOD, HOLD, BAD_KEYS)}
        n = 0
        for _ in range(plan.reps):
            for case in (FLOOD, HOLD, BAD_KEYS):
                n += 1
                runs[ALONE].append(await self.window(f"B alone #{n}", b_spec, None))
                other = others[case]
                n += 1
                runs[case].append(await self.window(f"B + {other[0]} #{n}", b_spec, other))
        self.verdicts(runs, flood_rate, heavy_probe["requested"])

    def verdicts(self, runs: dict[str, list[dict[str, Any]]], flood_rate: float, heavy_cost: float) -> None:
        plan, verdicts, notes = self.plan, self.results.verdicts, self.results.notes

        def pooled(case: str) -> list[float]:
            return sorted(v for r in runs[case] for v in r["extra"].get("latencies", []))

        def bad(case: str) -> int:
            return sum(_non_2xx(r["statuses"]) + r["statuses"].get("200+errors", 0) for r in runs[case])

        alone = pooled(ALONE)
        p99_alone = percentile(alone, 99)
        base = (
            f"B alone: p99 {fmt_ms(p99_alone)} (p50 {fmt_ms(percentile(alone, 50))}, n={len(alone)});"
            f" non-2xx {bad(ALONE)}"
        )
        scenarios = (
            (FLOOD, f"B p99 while A floods open loop at {plan.flood_factor:g}x its limit ({flood_rate:.0f} req/s)"),
            (HOLD, f"B p99 while A holds {plan.hold_conns} connections of its costliest query (cost {heavy_cost:.0f})"),
            (BAD_KEYS, f"B p99 while {plan.bad_keys} invalid keys flood at {plan.bad_key_rate:g} req/s"),
        )
        for case, what in scenarios:
            lat = pooled(case)
            p99 = percentile(lat, 99)
            ratio = p99 / p99_alone if p99_alone else 0.0
            failed = bad(case)
            verdicts.append(
                Verdict(
                    what,
                    f"p99 {fmt_ms(p99)} (p50 {fmt_ms(percentile(lat, 50))}, n={len(lat)}); non-2xx {failed}",
                    base,
                    ratio,
                    "≤ 1.5x; 0 non-2xx",
                    ratio <= 1.5 and failed == 0 and bool(lat),
                )
            )
        # -- backend calls of the bad-key windows ---------------------------------------------
        calls = sum(r["extra"]["auth_calls"] for r in runs[BAD_KEYS])
        lookups: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        for r in runs[BAD_KEYS]:
            lookups.update(r["extra"]["key_lookups"])
            refused.update(r["extra"]["key_refused"])
        alone_calls = [r["extra"]["auth_calls"] for r in runs[ALONE]]
        needed = lookups.get("valid", 0)
        strangers = calls - needed
        verdicts.append(
            Verdict(
                f"AuthenticatePartner calls during the bad-key flood ({len(runs[BAD_KEYS])} window(s))",
                f"{calls:.0f} calls; lookups of B's key {needed} (valid), of others"
                f" {lookups.get('unknown', 0)} (unknown) {lookups.get('error', 0)} (error); refused without a"
                " lookup: " + (", ".join(f"{k} {v}" for k, v in sorted(refused.items())) or "none"),
                f"B alone: {sum(alone_calls):.0f} calls in {len(alone_calls)} window(s) (B's key is looked up"
                " again whenever the facade's entry for it expires: MES_FACADE_API_KEY_CACHE_TTL_S, 5 s by default)",
                None,
                "calls = B's own lookups (0 for the bad keys)",
                strangers == 0 and lookups.get("unknown", 0) == 0 and lookups.get("error", 0) == 0,
            )
        )
        # -- the other load: what it got ------------------------------------------------------
        for case, title in ((FLOOD, "A's flood"), (HOLD, "A's hold"), (BAD_KEYS, "the bad-key flood")):
            others = [r["extra"]["other"] for r in runs[case]]
            statuses: Counter[str] = Counter()
            for o in others:
                statuses.update(o["statuses"])
            answered = [_answered(o) for o in others]
            ok_rate = [float(o["rate"]) for o in others]
            conns = sum(o["extra"].get("connections_opened", 0) for o in others)
            verdicts.append(
                Verdict(
                    f"{title}: its answers",
                    f"{fmt_rate(sum(answered) / len(answered))} answered, {fmt_rate(sum(ok_rate) / len(ok_rate))}"
                    f" 200; {', '.join(f'{k}: {v}' for k, v in statuses.most_common())};"
                    f" {conns} connection(s) opened",
                    "—",
                    None,
                    "—",
                    None,
                )
            )
        # -- the measurement itself -----------------------------------------------------------
        every = [r for case in runs.values() for r in case]
        b_cpu = max(float(r["client_cpu_pct"]) for r in every)
        other_cpu = max(
            (float(r["extra"]["other"]["client_cpu_pct"]) for r in every if "other" in r["extra"]), default=0.0
        )
        verdicts.append(
            Verdict(
                "load generators' CPU, busiest window (each its own process, % of one core)",
                f"B: {b_cpu:.0f} %; flooders: {other_cpu:.0f} %",
                "—",
                None,
                "< 50 % each",
                b_cpu < 50.0 and other_cpu < 50.0,
            )
        )
        if other_cpu >= 50.0 or b_cpu >= 50.0:
            notes.append(
                "a load generator used half a core or more: the offered rates may not have been kept"
                " (see client_overrun in the answers)"
            )


async def run_edge(plan: EdgePlan, workdir: Path, say: Say) -> EdgeResults:
    stack = BenchStack(workdir, server_cpus=plan.server_cpus, say=say)
    edge: _Edge | None = None
    try:
        say("edge: starting the stack (SQLite)")
        await stack.start()
        await wait_for_catalogue(stack, A)
        await receive_metal(stack, BENCH_ALLOY, 2)
        say(f"edge: seeding {plan.orders} orders (A three in four) and waiting for the saga")
        ids = await seed_orders(stack, [A, A, A, B], plan.orders)
        settled, counts = await wait_until_settled(stack, 120.0)
        await asyncio.sleep(1.0)
        facade = await stack.start_facade("facade-edge", {})  # the shipped limits
        edge = _Edge(stack, plan, say, facade)
        edge.results.notes.append(
            f"seeded orders by status: {counts}"
            + ("" if settled else " (saga not settled)")
            + f"; A {len(ids[A])} of them, B {len(ids[B])}"
        )
        say("edge: windows")
        await edge.run(ids[B])
    finally:
        await stack.aclose()
    assert edge is not None
    return edge.results
