"""Partner isolation: one partner's p99 alone and while another floods at a multiple of its limit.

The victim polls its own orders at a fixed rate (open loop); the flood comes from a separate
load-generator process, at a multiple of the limit read from the flooder's own answer
(``min(requests per minute / 60, restoreRate / actual cost per query)``).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from perf._common import gql, graphql_body, query, run_load
from perf._report import Verdict, fmt_ms
from perf._stack import HttpServer
from perf._stats import percentile

if TYPE_CHECKING:
    from perf._facade_bench import FacadePlan, FacadeResults
    from perf._stack import BenchStack

__all__ = ["FLOODER", "VICTIM", "IsolationScenario"]

VICTIM, FLOODER = "aurora-jewels", "northwind-gems"  # demo partners: PLUS and STANDARD tiers


class IsolationScenario:
    """Mixed into the facade run, whose stack, plan, results, ``quiet``, ``load`` and ``window`` it uses."""

    stack: BenchStack
    plan: FacadePlan
    results: FacadeResults

    async def quiet(self, label: str) -> None:
        raise NotImplementedError

    async def load(self, label: str, spec: dict[str, Any], *, quiet: bool = True) -> dict[str, Any]:
        raise NotImplementedError

    def window(self, **spec: Any) -> dict[str, Any]:
        raise NotImplementedError

    def say(self, message: str) -> None:
        raise NotImplementedError

    async def flooder_limit(self, warm: HttpServer) -> tuple[float, str]:
        """Requests per second the flooding partner may sustain, from its own answer's cost and headers."""
        headers = {"X-API-Key": self.stack.partner_keys[FLOODER]}
        response = await gql(
            warm.url, query("partner_orders"), {"first": 20}, headers=headers, operation="PartnerOrders"
        )
        cost = response.json()["extensions"]["cost"]
        actual = max(1.0, float(cost["actualQueryCost"]))
        restore = float(cost["throttleStatus"]["restoreRate"])
        policy = response.headers.get("ratelimit-policy", "")
        found = re.search(r'"requests";q=(\d+);w=(\d+)', policy)
        by_requests = int(found.group(1)) / int(found.group(2)) if found else float("inf")
        limit = min(by_requests, restore / actual)
        why = f"min({by_requests:.1f} req/s by requests/min, {restore:.0f} points/s ÷ {actual:.0f} points per query)"
        return limit, why

    async def isolation(self, warm: HttpServer, victim_ids: list[str]) -> None:
        plan, stack = self.plan, self.stack
        limit, why = await self.flooder_limit(warm)
        self.results.notes.append(
            f"flooding partner ({FLOODER}, STANDARD limits as shipped): limit {limit:.1f} req/s = {why}"
        )
        victim_bodies = [
            {
                "headers": {"X-API-Key": stack.partner_keys[VICTIM]},
                "body": graphql_body(query("order_status"), "OrderStatus", {"id": i}),
            }
            for i in victim_ids
        ]
        flood_body = graphql_body(query("partner_orders"), "PartnerOrders", {"first": 20})
        pids = [*stack.pids(["orders"]), warm.pid]
        victim = self.window(
            kind="http",
            mode="open",
            port=warm.port,
            rate=plan.victim_rate,
            max_inflight=64,
            duration_s=plan.flood_duration_s,
            requests=victim_bodies,
            server_pids=pids,
            return_latencies=True,
        )
        phases: list[float] = []
        for _ in range(min(plan.reps, 2)):
            phases += [0.0, plan.flood_factors[0]]
        phases += list(plan.flood_factors[1:])
        pooled: dict[float, list[float]] = {}
        for n, factor in enumerate(phases, start=1):
            if factor == 0.0:
                result = await self.load(f"victim alone #{n}", victim)
            else:
                flood = {
                    "kind": "http",
                    "mode": "open",
                    "port": warm.port,
                    "rate": factor * limit,
                    "max_inflight": 256,
                    "warmup_s": 0.0,
                    "duration_s": plan.warmup_s + plan.flood_duration_s + 1.0,
                    "requests": [{"headers": {"X-API-Key": stack.partner_keys[FLOODER]}, "body": flood_body}],
                }
                label = f"victim while flood x{factor:g} #{n}"
                await self.quiet(label)
                flooding = asyncio.create_task(run_load(flood, cpus=plan.client_cpus))
                await asyncio.sleep(0.5)
                result = await self.load(label, victim, quiet=False)
                flooded = await flooding
                self.results.windows.append((f"flooder x{factor:g} ({factor * limit:.0f} req/s offered) #{n}", flooded))
                self.say(f"    flooder x{factor:g}: {flooded['statuses']}")
            pooled.setdefault(factor, []).extend(result["extra"].get("latencies", []))
        alone = sorted(pooled[0.0])
        p99_alone = percentile(alone, 99)
        for factor in plan.flood_factors:
            flooded_lat = sorted(pooled.get(factor, []))
            p99 = percentile(flooded_lat, 99)
            ratio = p99 / p99_alone if p99_alone else 0.0
            first = factor == plan.flood_factors[0]
            self.results.verdicts.append(
                Verdict(
                    f"partner p99 ({plan.victim_rate:g} req/s order polling)"
                    f" while another floods at {factor:g}x its limit",
                    f"p99 {fmt_ms(p99)} (p50 {fmt_ms(percentile(flooded_lat, 50))}, n={len(flooded_lat)})",
                    f"alone: p99 {fmt_ms(p99_alone)} (p50 {fmt_ms(percentile(alone, 50))}, n={len(alone)})",
                    ratio,
                    "< 1.1x" if first else "—",
                    ratio < 1.1 if first else None,
                )
            )
