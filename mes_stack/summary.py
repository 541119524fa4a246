"""What ``mes up`` prints once everything is ready."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mes_stack.database import redact_url
from mes_stack.demo_data import DEMO_OPERATOR_PASSWORD, DEMO_SUPERVISOR_PASSWORD, OPERATORS
from mes_stack.partner_keys import PARTNERS_FILE
from mes_stack.plan import StackPlan
from mes_stack.state import ProcessInfo

__all__ = ["READY_LINE", "example_commands", "render_summary"]

#: Printed last; scripts and tests wait for it.
READY_LINE = "mes: the stack is up; press Ctrl-C to stop it"
#: What the facade accepts from operators when MES_FACADE_OPERATOR_TOKENS is not set.
FACADE_DEV_OPERATOR_TOKEN = "mes-dev-operator"
_DEFAULT_CLIENT_ENV = {
    "MES_ORDERS_ADDR": "127.0.0.1:50151",
    "MES_INVENTORY_ADDR": "127.0.0.1:50152",
    "MES_PRODUCTION_ADDR": "127.0.0.1:50153",
    "MES_WEBHOOKS_ADDR": "127.0.0.1:50154",
    "MES_ANALYTICS_ADDR": "127.0.0.1:50155",
}


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def example_commands(plan: StackPlan, partner_keys: Mapping[str, str], *, today: date | None = None) -> list[str]:
    """mesctl examples; the exports are only needed when the stack is not on the default ports."""
    due = (today or datetime.now(UTC).date()) + timedelta(days=14)
    lines = [f"export {k}={v}" for k, v in plan.client_env().items() if _DEFAULT_CLIENT_ENV.get(k) != v]
    partner = next(iter(partner_keys), "aurora-jewels")
    lines += [
        "mesctl partners list",
        "mesctl inventory balances",
        "mesctl production styles",
        f"mesctl orders submit --parent {partner} --reference PO-1001 --priority HIGH --due {due.isoformat()}"
        " --line RNG-SOL-001:AU750Y:2:52 --line PND-HRT-001:AU585R:1::Forever",
        "mesctl --output json orders list",
        f"mesctl webhooks endpoints create {partner} --url http://127.0.0.1:8765/hooks    # docs/webhooks.md",
    ]
    if "analytics" in plan.addresses:
        lines += ["mesctl analytics status", "mesctl analytics partners --grain week"]
    if partner in partner_keys:
        lines.append(f"mesctl --api-key {partner_keys[partner]} orders list    # as the partner {partner}")
    facade = next((spec for spec in plan.processes if spec.role == "facade"), None)
    if facade is not None:
        custom = "MES_FACADE_OPERATOR_TOKENS" in facade.env
        operator = "<token from MES_FACADE_OPERATOR_TOKENS>" if custom else FACADE_DEV_OPERATOR_TOKEN
        query = """-H 'content-type: application/json' -d '{"query": "{ __typename }"}'"""
        lines.append(f"curl -s {facade.address} -H 'authorization: Bearer {operator}' {query}")
        if partner in partner_keys:
            lines.append(f"curl -s {facade.address} -H 'x-api-key: {partner_keys[partner]}' {query}")
    return lines


def _demo_sign_ins() -> list[tuple[str, str]]:
    """(operator codes, password) of the demo operators and of the supervisors."""
    rows = []
    for supervisor in (False, True):
        codes = [op.code for op in OPERATORS if op.supervisor is supervisor]
        if codes:
            rows.append((", ".join(codes), DEMO_SUPERVISOR_PASSWORD if supervisor else DEMO_OPERATOR_PASSWORD))
    return rows


def render_summary(
    plan: StackPlan,
    processes: Sequence[ProcessInfo],
    *,
    data_dir: Path,
    partner_keys: Mapping[str, str],
) -> str:
    out = ["", f"Jewelry MES is running (data folder {data_dir})", ""]
    rows = [("NAME", "PID", "ADDRESS", "LOG")] + [(p.name, str(p.pid), p.address, p.log) for p in processes]
    out += _table(rows)
    if any(spec.role == "worker" for spec in plan.processes):
        out.append("  (*-worker: consumers, outbox relay, background tasks; gRPC health only at that address)")
    if plan.nats_cluster:
        out.append(
            f"  (NATS: a JetStream cluster of {len(plan.nats_servers)} nodes, streams at {plan.stream_replicas}"
            f" replicas; the services connect to {plan.nats_url})"
        )
    elif not any(spec.role == "nats" for spec in plan.processes):
        out.append(f"  (NATS: {plan.nats_url}, not started by mes up)")
    scraped = [(spec.name, spec.metrics_url) for spec in plan.processes if spec.metrics_url]
    if scraped:
        out += ["", "Prometheus metrics (each on a port of its own):"]
        out += _table([(name, url) for name, url in scraped if url])
    facade = next((spec for spec in plan.processes if spec.role == "facade"), None)
    if facade is not None:
        site = facade.address.removesuffix("graphql")
        out += ["", f"Operators' web app: {site}  (sign in; GraphiQL at {site}graphiql)"]
    if plan.database_read_urls:
        out += ["", "Databases (writes on the primary, reads on its streaming replica):"]
        for svc, url in plan.database_urls.items():
            out.append(f"  {svc:<11} {redact_url(url)}")
            reader = plan.database_read_urls.get(svc)
            if reader:
                out.append(f"  {'':<11} {redact_url(reader)}  (replica)")
    else:
        out += ["", "Databases:"]
        out += [f"  {svc:<11} {redact_url(url)}" for svc, url in plan.database_urls.items()]
    if partner_keys:
        out += ["", f"Demo partners' API keys (kept in {data_dir / PARTNERS_FILE}; send as x-api-key):"]
        out += _table([(pid, key) for pid, key in partner_keys.items()])
        out += ["", "Demo sign-in on the floor (development only; change with `mesctl production set-password`):"]
        out += _table(_demo_sign_ins())
    out += ["", "Try:"]
    out += ["  " + line for line in example_commands(plan, partner_keys)]
    out += ["", READY_LINE]
    return "\n".join(out)
