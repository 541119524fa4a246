"""Replay the attacks of the security review against a running local stack, as a new user would.

Start the stack of the README (``python3 dev.py up``) in another terminal, then::

    .venv/bin/python perf/replay_attacks.py [--url http://127.0.0.1:8180] [--data-dir var] \
        [--metrics-url http://127.0.0.1:18180/metrics]

It reads the demo partners' keys from ``<data-dir>/demo-partners.json`` (``aurora-jewels``, PLUS,
called A; ``northwind-gems``, STANDARD, called B) and the processes of the stack from
``<data-dir>/stack.json``, then runs these probes in order and prints a markdown table (attack, what
was sent, answer, expected, verdict) followed by the details of each probe:

1. A floods with 200 keep-alive connections sending its heaviest allowed query
   (``perf/queries/partner_heaviest.graphql``) back to back for 20 s while B sends a cheap query once
   a second (in a separate process, so the flood's client does not slow B's client); B's baseline is
   measured alone for 10 s first. A first submits ``--seed-orders`` orders so the query has data.
2. 300 random bad API keys as fast as 50 connections allow for 15 s while B sends once a second;
   the facade's ``/metrics`` before and after (``AuthenticatePartner`` calls, refusals), read on its
   metrics port (``--metrics-url``; the port partners call answers 404 there).
3. A fresh partner (``mesctl partners create``) opens a ``graphql-transport-ws`` subscription; its key
   is revoked (``mesctl partners revoke-key``): time to the close, close code and reason; then an
   HTTP query with the revoked key.
4. A 300 MB chunked POST (no Content-Length) with B's key; the facade's VmRSS / VmHWM before and after.
5. A POST body nested 100,000 levels deep with B's key.
6. A malformed protobuf (``ff ff ff ff``) sent without credentials to ``OrdersService/GetOrder``.
7. B reads ``asOf { position }``, A submits 3 orders, B reads it again (it must not have moved); B
   subscribes to its order status changes while B submits 2 orders and A 1 more, and resumes after
   its first position (an operator subscription shows the stream's sequences next to it); B's
   ``asOf { seq }`` is refused.
8. Internal names: an invalid ``submitOrder`` (field names of the violations), a forged ``after``
   cursor, and an operator's ``cancelOrder`` without a reason read back by B.
9. ``RateLimit`` / ``RateLimit-Policy`` headers on a 200, a 429 and a 413 answer of the probes above.
10. Outage (last: it SIGKILLs the orders service, the API process of ``stack.json``; ``mes up``'s
    supervisor then stops the stack): B (cached key) and a brand-new well-formed key send a query.

Without a stack: ``--startup-checks`` starts ``python -m services.orders`` and ``python -m
graphql_facade`` with insecure settings (a non-loopback host without tokens, a ``REPLACE_ME``
token) and reports the first line of their refusal and their exit code.

Every call has a timeout; a probe that cannot run says why in its row. The verdicts compare with
what the READMEs promise; timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import itertools
import json
import os
import random
import re
import secrets
import signal
import statistics
import string
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
from websockets import ConnectionClosed, Subprotocol
from websockets.asyncio.client import ClientConnection, connect

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
QUERIES = ROOT / "perf" / "queries"

OPERATOR_TOKEN_DEFAULT = "mes-dev-operator"  # README: the dashboard's token of the local stack
DEFAULT_METRICS_PORT = 18180  # README: MES_FACADE_METRICS_PORT, the facade's /metrics apart from its HTTP port
CHEAP_QUERY = "{ orders(first: 5) { nodes { id status } } }"

#: Partners see positions (sealed to them); operators the stream's sequences.
STATUS_SUBSCRIPTION = """subscription {
  orderStatusChanged {
    __typename
    ... on OrderStatusChanged { position orderId fromStatus toStatus reason }
    ... on ResyncRequired { position reason }
  }
}"""
OPERATOR_STATUS_SUBSCRIPTION = STATUS_SUBSCRIPTION.replace("position", "seq")
SUBMIT_ORDER = (
    "mutation($i: SubmitOrderInput!, $k: String!) "
    "{ submitOrder(input: $i, idempotencyKey: $k) { replayed order { id status } } }"
)
WS_PROTOCOL = Subprotocol("graphql-transport-ws")
KEY_ALPHABET = string.ascii_letters + string.digits + "-_"


# -- results -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    number: str
    attack: str
    sent: str
    answer: str
    expected: str
    verdict: str


@dataclasses.dataclass
class Report:
    rows: list[Row] = dataclasses.field(default_factory=list)
    details: list[str] = dataclasses.field(default_factory=list)
    #: answers kept for probe 9: label -> (status, RateLimit, RateLimit-Policy, Retry-After)
    header_samples: dict[str, tuple[int, str | None, str | None, str | None]] = dataclasses.field(default_factory=dict)

    def add(self, row: Row, detail: str) -> None:
        self.rows.append(row)
        self.details.append(f"### {row.number}. {row.attack}\n\n{detail.rstrip()}\n")
        print(f"[{row.number}] {row.verdict}: {row.answer}", file=sys.stderr, flush=True)

    def keep_headers(self, label: str, answer: Answer) -> None:
        if label not in self.header_samples and answer.status is not None:
            h = answer.headers
            self.header_samples[label] = (
                answer.status,
                h.get("ratelimit"),
                h.get("ratelimit-policy"),
                h.get("retry-after"),
            )

    def markdown(self) -> str:
        lines = [
            "| # | attack | what was sent | answer | expected | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            cells = [r.number, r.attack, r.sent, r.answer, r.expected, r.verdict]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        return "\n".join(lines) + "\n\n## Details\n\n" + "\n".join(self.details)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def verdict(ok: bool) -> str:
    return "OK" if ok else "NOT OK"


def fmt_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "(none)"


def ms_stats(values: Sequence[float]) -> str:
    if not values:
        return "no answers"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms (n={len(ordered)})"


# -- HTTP helpers --------------------------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    status: int | None
    headers: httpx.Headers
    body: Any
    ms: float
    error: str | None = None

    @property
    def codes(self) -> list[str]:
        return error_codes(self.body)

    @property
    def errors(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return [e for e in self.body["errors"] if isinstance(e, dict)]
        return []

    def short(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        codes = ",".join(self.codes)
        return f"HTTP {self.status}" + (f" {codes}" if codes else "")


def error_codes(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    codes = []
    for e in body["errors"]:
        ext = e.get("extensions") if isinstance(e, dict) else None
        codes.append(str(ext.get("code")) if isinstance(ext, dict) else "?")
    return codes


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def partner_headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "content-type": "application/json"}


def operator_headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "content-type": "application/json"}


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str],
    query: str | None = None,
    variables: Mapping[str, Any] | None = None,
    content: bytes | None = None,
    timeout: float = 30.0,
) -> Answer:
    """One POST; never raises for transport errors (they are the answer)."""
    if content is None:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = dict(variables)
        content = json.dumps(body).encode()
    start = time.perf_counter()
    try:
        r = await client.post(url, content=content, headers=dict(headers), timeout=timeout)
    except httpx.HTTPError as exc:
        return Answer(None, httpx.Headers(), None, (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}")
    return Answer(r.status_code, r.headers, _decode(r), (time.perf_counter() - start) * 1000)


def new_client(connections: int = 10) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        trust_env=False,
    )


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


async def read_metrics(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    """The facade's counters we compare, as ``name{labels}`` -> value."""
    wanted = (
        "mes_facade_backend_calls_total",
        "mes_facade_api_key_refused_total",
        "mes_facade_admission_refused_total",
        "mes_facade_api_key_lookups_total",
    )
    r = await client.get(url, timeout=15.0)
    r.raise_for_status()
    found: dict[str, float] = {}
    for line in r.text.splitlines():
        m = METRIC_LINE.match(line)
        if m and m.group(1) in wanted:
            found[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return found


def metric_delta(before: Mapping[str, float], after: Mapping[str, float], name: str, needle: str = "") -> float:
    keys = {k for k in (*before, *after) if k.startswith(name + "{") or k == name}
    keys = {k for k in keys if needle in k}
    return sum(after.get(k, 0.0) - before.get(k, 0.0) for k in keys)


def metric_deltas(before: Mapping[str, float], after: Mapping[str, float], name: str) -> dict[str, float]:
    keys = sorted(k for k in (*before, *after) if k.startswith(name + "{"))
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in dict.fromkeys(keys)}


# -- the stack -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Stack:
    base: str  # http://host:port
    data_dir: Path
    key_a: str
    key_b: str
    operator_token: str
    orders_addr: str
    pids: dict[str, int]
    #: The facade's Prometheus endpoint (its own port, not ``base``).
    metrics_url: str = ""
    production_addr: str = "127.0.0.1:50153"

    @property
    def graphql(self) -> str:
        return f"{self.base}/graphql"

    @property
    def ws(self) -> str:
        return self.graphql.replace("http://", "ws://", 1).replace("https://", "wss://", 1)


def load_stack(base: str, folder: str, operator_token: str, metrics_url: str | None = None) -> Stack:
    data_dir = Path(folder).resolve()
    partners = json.loads((data_dir / "demo-partners.json").read_text(encoding="utf-8"))["partners"]
    keys = {p["partner_id"]: p["api_key"] for p in partners}
    pids: dict[str, int] = {}
    orders_addr = "127.0.0.1:50151"
    production_addr = "127.0.0.1:50153"
    state_file = data_dir / "stack.json"
    if state_file.is_file():
        state = json.loads(state_file.read_text(encoding="utf-8"))
        pids = {p["name"]: int(p["pid"]) for p in state.get("processes", [])}
        orders_addr = (state.get("addresses", {}).get("orders") or [orders_addr])[0]
        production_addr = (state.get("addresses", {}).get("production") or [production_addr])[0]
    return Stack(
        base=base.rstrip("/"),
        data_dir=data_dir,
        key_a=keys["aurora-jewels"],
        key_b=keys["northwind-gems"],
        operator_token=operator_token,
        orders_addr=orders_addr,
        production_addr=production_addr,
        pids=pids,
        metrics_url=metrics_url or default_metrics_url(base),
    )


def default_metrics_url(base: str) -> str:
    """The facade's metrics on the host of ``base``, at the facade's default metrics port."""
    host = urlsplit(base).hostname or "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{DEFAULT_METRICS_PORT}/metrics"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def stack_process(stack: Stack, name: str, module: str) -> int:
    """The pid of the stack's process ``name`` (from stack.json), checked against its command line."""
    pid = stack.pids.get(name)
    if pid is None:
        raise RuntimeError(f"{stack.data_dir / 'stack.json'} names no process {name!r}")
    if f"-m {module}" not in cmdline(pid):
        raise RuntimeError(f"pid {pid} ({name}) is not `python -m {module}` any more: {cmdline(pid)!r}")
    return pid


async def pgrep(pattern: str) -> list[int]:
    proc = await asyncio.create_subprocess_exec(
        "pgrep", "-f", pattern, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    return [int(x) for x in out.split()]


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in kB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


async def mesctl(stack: Stack, *args: str, timeout: float = 60.0) -> tuple[int, Any, str]:
    """Run ``mesctl -o json ARGS`` as a user would; (exit code, parsed stdout, stderr)."""
    script = Path(sys.executable).parent / "mesctl"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "clients.cli"]
    env = dict(os.environ)
    env["MES_ORDERS_ADDR"] = stack.orders_addr
    proc = await asyncio.create_subprocess_exec(
        *argv,
        "-o",
        "json",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(ROOT),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"mesctl {' '.join(args)} did not finish within {timeout:.0f} s") from None
    parsed: Any = None
    with contextlib.suppress(ValueError):
        parsed = json.loads(out)
    return proc.returncode or 0, parsed, err.decode(errors="replace")


# -- B's steady sender (a separate process) ------------------------------------------------------


async def b_sender(url: str, key: str, seconds: float, interval: float) -> list[dict[str, Any]]:
    """B's cheap query once per ``interval`` for ``seconds``, on one keep-alive connection."""
    results: list[dict[str, Any]] = []
    body = json.dumps({"query": CHEAP_QUERY}).encode()
    async with new_client(1) as client:
        start = time.perf_counter()
        for n in itertools.count():
            due = start + n * interval
            if due - start >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            a = await post(client, url, headers=partner_headers(key), content=body, timeout=15.0)
            results.append(
                {
                    "t": round(due - start, 2),
                    "status": a.status,
                    "codes": a.codes,
                    "ms": round(a.ms, 1),
                    "error": a.error,
                }
            )
    return results


async def run_b_sender(stack: Stack, seconds: float) -> list[dict[str, Any]]:
    env = dict(os.environ)
    env["REPLAY_B_KEY"] = stack.key_b
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--b-sender",
        "--url",
        stack.base,
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("B's sender did not finish") from None
    if proc.returncode != 0:
        raise RuntimeError(f"B's sender failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    result: list[dict[str, Any]] = json.loads(out)
    return result


def summarize_b(samples: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], list[float]]:
    statuses: collections.Counter[str] = collections.Counter()
    for s in samples:
        label = str(s["status"]) if s["status"] is not None else f"error {s['error']}"
        if s["codes"]:
            label += " " + ",".join(s["codes"])
        statuses[label] += 1
    return dict(statuses), [float(s["ms"]) for s in samples if s["status"] is not None]


# -- floods --------------------------------------------------------------------------------------


@dataclasses.dataclass
class FloodResult:
    counts: collections.Counter[str]
    first_at: dict[str, float]  # label -> seconds after the start of its first answer
    order: list[str]  # labels in the order they first appeared
    samples: dict[str, Answer]
    sent: int


async def flood(
    client: httpx.AsyncClient,
    url: str,
    *,
    workers: int,
    seconds: float,
    make: Callable[[], tuple[dict[str, str], bytes]],
    per_request_timeout: float = 30.0,
) -> FloodResult:
    result = FloodResult(collections.Counter(), {}, [], {}, 0)
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            headers, body = make()
            a = await post(client, url, headers=headers, content=body, timeout=per_request_timeout)
            result.sent += 1
            label = a.short() if a.status is not None else f"error {a.error.split(':')[0] if a.error else '?'}"
            result.counts[label] += 1
            if label not in result.first_at:
                result.first_at[label] = time.perf_counter() - start
                result.order.append(label)
                result.samples[label] = a

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + per_request_timeout + 5)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if pending:
        result.counts["(still running at the end, cancelled)"] += len(pending)
    return result


# -- probe 1 -------------------------------------------------------------------------------------


def order_input(reference: str, *, style: str = "EAR-STD-001", alloy: str = "AG925", qty: int = 1) -> dict[str, Any]:
    return {
        "partnerReference": reference,
        "dueTime": "2031-12-31T00:00:00Z",
        "priority": "NORMAL",
        "lines": [{"styleCode": style, "alloyCode": alloy, "quantity": qty}],
    }


async def submit(client: httpx.AsyncClient, stack: Stack, key: str, reference: str, **kw: Any) -> Answer:
    variables = {"k": f"replay-{reference}", "i": order_input(reference, **kw)}
    return await post(client, stack.graphql, headers=partner_headers(key), query=SUBMIT_ORDER, variables=variables)


async def seed_orders(stack: Stack, count: int) -> str:
    if count <= 0:
        return "no seed orders (--seed-orders 0)"
    run = secrets.token_hex(3)
    sem = asyncio.Semaphore(4)
    outcomes: collections.Counter[str] = collections.Counter()
    styles = [("EAR-STD-001", "AG925"), ("RNG-SOL-001", "AU750Y"), ("PND-HRT-001", "AU585R")]
    async with new_client(4) as client:

        async def one(i: int) -> None:
            style, alloy = styles[i % len(styles)]
            async with sem:
                a = await submit(client, stack, stack.key_a, f"SEED-{run}-{i:03d}", style=style, alloy=alloy)
            outcomes[a.short()] += 1

        await asyncio.gather(*(one(i) for i in range(count)))
        # let the saga move them on before measuring anything
        waited = 0.0
        while waited < 30.0:
            a = await post(
                client,
                stack.graphql,
                headers=partner_headers(stack.key_a),
                query="{ orders(first: 100, filter: { statuses: [SUBMITTED] }) { nodes { id } } }",
            )
            nodes = (
                ((a.body or {}).get("data") or {}).get("orders", {}).get("nodes") if isinstance(a.body, dict) else None
            )
            if nodes == []:
                break
            await asyncio.sleep(2.0)
            waited += 2.0
    return f"A submitted {count} seed orders first ({fmt_counts(outcomes)}); saga settled after ~{waited:.0f} s"


async def probe_flood_a(stack: Stack, report: Report, seed: int) -> None:
    heavy = (QUERIES / "partner_heaviest.graphql").read_text(encoding="utf-8")
    seed_note = await seed_orders(stack, seed)
    baseline = await run_b_sender(stack, 10.0)
    body = json.dumps({"query": heavy, "operationName": "PartnerHeaviest"}).encode()
    headers = partner_headers(stack.key_a)
    b_task = asyncio.create_task(run_b_sender(stack, 20.0))
    async with new_client(200) as client:
        result = await flood(client, stack.graphql, workers=200, seconds=20.0, make=lambda: (headers, body))
    during = await b_task
    base_status, base_ms = summarize_b(baseline)
    b_status, b_ms = summarize_b(during)
    for label, answer in result.samples.items():
        if answer.status == 200:
            report.keep_headers("200 (probe 1, A)", answer)
        elif answer.status == 429:
            report.keep_headers(f"429 (probe 1, A: {label})", answer)
    b_ok = bool(during) and all(s["status"] == 200 for s in during)
    allowed = {"THROTTLED", "TOO_MANY_CONCURRENT_REQUESTS", "RATE_LIMITED"}
    a_labels = set(result.counts)
    a_ok = any(lbl.startswith("HTTP 429") for lbl in a_labels) and all(
        lbl == "HTTP 200" or (lbl.startswith("HTTP 429") and set(lbl.split()[-1].split(",")) <= allowed)
        for lbl in a_labels
    )
    median_base = statistics.median(base_ms) if base_ms else float("nan")
    median_during = statistics.median(b_ms) if b_ms else float("nan")
    answer = (
        f"B: {fmt_counts(b_status)}; B latency during {ms_stats(b_ms)} vs alone {ms_stats(base_ms)}"
        f" (median x{median_during / median_base:.1f}). A ({result.sent} answers in 20 s): {fmt_counts(result.counts)}"
    )
    detail = [
        seed_note + ".",
        "",
        f"B alone (10 s, 1/s): {fmt_counts(base_status)}; {ms_stats(base_ms)}.",
        f"B during the flood (20 s, 1/s): {fmt_counts(b_status)}; {ms_stats(b_ms)}.",
        "B's samples during the flood (t s: status ms): "
        + ", ".join(f"{s['t']:.0f}: {s['status']} {s['ms']:.0f}" for s in during),
        "",
        f"A: {result.sent} answers; first seen at (s): "
        + ", ".join(f"{lbl} @ {result.first_at[lbl]:.2f}" for lbl in result.order),
    ]
    for label, sample in result.samples.items():
        if sample.status != 200:
            detail.append(f"- sample `{label}`: `{json.dumps(sample.body)[:400]}`")
    report.add(
        Row(
            "1",
            "Flood by A (200 keep-alive connections, heaviest query, 20 s)",
            "A: perf/queries/partner_heaviest.graphql (PartnerHeaviest, requested cost 1000) back to back on 200"
            f" connections; B: `{CHEAP_QUERY}` once a second (separate process)",
            answer,
            "B: all 200 (latency close to its baseline); A: 429 THROTTLED / TOO_MANY_CONCURRENT_REQUESTS /"
            " RATE_LIMITED and 200s",
            verdict(b_ok and a_ok) + ("" if b_ok else " (B refused)") + ("" if a_ok else " (A's codes)"),
        ),
        "\n".join(detail),
    )


# -- probe 2 -------------------------------------------------------------------------------------


def bad_keys(n: int = 300) -> list[str]:
    rng = random.SystemRandom()
    keys = []
    for i in range(n):
        if i % 3 == 2:
            keys.append("mes_" + "".join(rng.choice(KEY_ALPHABET) for _ in range(38)))
        else:
            keys.append("".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(20, 60))))
    return list(dict.fromkeys(keys))


async def probe_bad_keys(stack: Stack, report: Report) -> float:
    keys = bad_keys()
    body = json.dumps({"query": CHEAP_QUERY}).encode()
    cycle = itertools.cycle(keys)
    async with new_client(50) as client:
        before = await read_metrics(client, stack.metrics_url)
        b_task = asyncio.create_task(run_b_sender(stack, 15.0))
        result = await flood(
            client,
            stack.graphql,
            workers=50,
            seconds=15.0,
            make=lambda: (partner_headers(next(cycle)), body),
            per_request_timeout=15.0,
        )
        ended = time.monotonic()
        during = await b_task
        after = await read_metrics(client, stack.metrics_url)
    b_status, b_ms = summarize_b(during)
    auth_calls = metric_delta(before, after, "mes_facade_backend_calls_total", 'method="AuthenticatePartner"')
    lookups = metric_deltas(before, after, "mes_facade_api_key_lookups_total")
    refused = metric_deltas(before, after, "mes_facade_api_key_refused_total")
    admission = metric_deltas(before, after, "mes_facade_admission_refused_total")
    for label, answer in result.samples.items():
        if answer.status == 429:
            report.keep_headers(f"429 (probe 2, unauthenticated bad key: {label})", answer)
        if answer.status == 401:
            report.keep_headers("401 (probe 2, unauthenticated bad key)", answer)
    b_ok = bool(during) and all(s["status"] == 200 for s in during)
    flood_ok = set(result.counts) <= {"HTTP 401 UNAUTHENTICATED", "HTTP 429 RATE_LIMITED"} and (
        "HTTP 429 RATE_LIMITED" in result.counts
    )
    b_relookups_max = 15 / 5 + 2
    calls_ok = (
        auth_calls <= b_relookups_max and lookups.get('mes_facade_api_key_lookups_total{outcome="unknown"}', 0) == 0
    )
    unauth_before_429 = "?"
    if "HTTP 429 RATE_LIMITED" in result.first_at:
        unauth_before_429 = f"first 429 after {result.first_at['HTTP 429 RATE_LIMITED']:.2f} s"
    answer = (
        f"B: {fmt_counts(b_status)} ({ms_stats(b_ms)}); flood ({result.sent} requests, {len(keys)} keys):"
        f" {fmt_counts(result.counts)}, {unauth_before_429}; AuthenticatePartner calls +{auth_calls:.0f},"
        f" lookups {_fmt_deltas(lookups)}, refused without lookup {_fmt_deltas(refused)},"
        f" admission refused {_fmt_deltas(admission)}"
    )
    detail = [
        f"Keys: {len(keys)} distinct ({sum(k.startswith('mes_') for k in keys)} of them `mes_` + 38 random"
        " characters, the rest 20-60 random URL-safe characters), cycled by 50 workers.",
        "",
        "Metric deltas (after - before):",
        "",
        f'- `mes_facade_backend_calls_total{{method="AuthenticatePartner"}}` (all codes): +{auth_calls:.0f}'
        f" (B's key cache TTL is 5 s: up to ~{b_relookups_max:.0f} re-lookups of B's key expected)",
        *(f"- `{k}`: +{v:.0f}" for k, v in {**lookups, **refused, **admission}.items()),
        "",
        "First answer of each kind: " + ", ".join(f"{lbl} @ {result.first_at[lbl]:.2f} s" for lbl in result.order),
    ]
    for label, sample in result.samples.items():
        detail.append(
            f"- sample `{label}`: `{json.dumps(sample.body)[:300]}` (Retry-After: {sample.headers.get('retry-after')})"
        )
    report.add(
        Row(
            "2",
            "Bad-key flood (300 random keys, 50 connections, 15 s)",
            "random X-API-Key values (20-60 chars, and `mes_` + 38 chars) with the cheap query; B once a second",
            answer,
            "B all 200; flood 401 UNAUTHENTICATED then 429 RATE_LIMITED (120 failures/min per address);"
            " AuthenticatePartner +0 apart from B's re-lookups",
            verdict(b_ok and flood_ok and calls_ok),
        ),
        "\n".join(detail),
    )
    return ended


def _fmt_deltas(deltas: Mapping[str, float]) -> str:
    parts = []
    for k, v in deltas.items():
        label = k[k.find("{") + 1 : -1] if "{" in k else k
        parts.append(f"{label}: +{v:.0f}")
    return "{" + ", ".join(parts) + "}"


# -- probe 3 -------------------------------------------------------------------------------------


async def ws_open(url: str, payload: Mapping[str, Any], query: str) -> ClientConnection:
    """Open a graphql-transport-ws connection, authenticate, subscribe (id "1")."""
    ws = await connect(url, subprotocols=[WS_PROTOCOL], open_timeout=10, close_timeout=5, max_size=2**22)
    await ws.send(json.dumps({"type": "connection_init", "payload": dict(payload)}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if ack.get("type") != "connection_ack":
        await ws.close()
        raise RuntimeError(f"connection_init answered {ack}")
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    return ws


async def probe_revocation(stack: Stack, report: Report, bad_flood_ended: float | None) -> None:
    partner_id = f"replay-ws-{secrets.token_hex(3)}"
    code, created, err = await mesctl(stack, "partners", "create", partner_id, "--display-name", "Replay WS probe")
    if code != 0 or not isinstance(created, dict):
        raise RuntimeError(f"mesctl partners create failed ({code}): {err.strip()[:300]}")
    key = created["api_key"]
    key_id = created["partner"]["api_keys"][0]["key_id"]
    async with new_client(2) as client:
        first = await post(client, stack.graphql, headers=partner_headers(key), query=CHEAP_QUERY)
        since_flood = time.monotonic() - bad_flood_ended if bad_flood_ended else None
        ws = await ws_open(stack.ws, {"apiKey": key}, "subscription { orderStatusChanged { __typename } }")
        messages: list[str] = []
        close_code: int | None = None
        close_reason = ""
        closed_after_start = closed_after_return = None
        try:
            await asyncio.sleep(1.0)
            early_close = ws.close_code
            t_start = time.perf_counter()
            revoke_task = asyncio.create_task(mesctl(stack, "partners", "revoke-key", partner_id, key_id))
            t_return: float | None = None

            def revoke_done(_: asyncio.Task[Any]) -> None:
                nonlocal t_return
                t_return = time.perf_counter()

            revoke_task.add_done_callback(revoke_done)
            try:
                async with asyncio.timeout(20):
                    while True:
                        messages.append(str(await ws.recv())[:200])
            except ConnectionClosed as exc:
                t_closed = time.perf_counter()
                if exc.rcvd is not None:
                    close_code, close_reason = exc.rcvd.code, exc.rcvd.reason
                closed_after_start = t_closed - t_start
            except TimeoutError:
                pass
            r_code, _, r_err = await asyncio.wait_for(revoke_task, 60)
            if t_return is not None and closed_after_start is not None:
                closed_after_return = closed_after_start - (t_return - t_start)
        finally:
            await ws.close()
        after = await post(client, stack.graphql, headers=partner_headers(key), query=CHEAP_QUERY)
    if after.status == 401:
        report.keep_headers("401 (probe 3, unauthenticated revoked key)", after)
    ok = close_code == 4403 and closed_after_start is not None and closed_after_start <= 5.0 and after.status == 401
    when = (
        f"{closed_after_start:.2f} s after `mesctl partners revoke-key` started"
        + (f" ({closed_after_return:+.2f} s after it returned)" if closed_after_return is not None else "")
        if closed_after_start is not None
        else "not closed within 20 s"
    )
    answer = (
        f"closed {close_code} {close_reason!r} {when}; HTTP with the revoked key: {after.short()}"
        f" (the new key's first HTTP query, before the revocation: {first.short()}"
        + (f", {since_flood:.0f} s after the bad-key flood of probe 2 ended)" if since_flood is not None else ")")
    )
    detail = "\n".join(
        [
            f"Partner `{partner_id}` created with `mesctl partners create` (key id {key_id});"
            f" first HTTP query with its key: {first.short()}.",
            f"Socket state 1 s after subscribing: {'open' if early_close is None else f'closed {early_close}'}.",
            f"`mesctl partners revoke-key` exit code {r_code}" + (f", stderr: {r_err.strip()[:200]}" if r_code else ""),
            f"Messages received before the close: {messages or 'none'}.",
            f"HTTP after revocation: {after.short()} `{json.dumps(after.body)[:300]}`",
            (
                f"(the bad-key flood of probe 2 had ended {since_flood:.1f} s before the new key's first HTTP query;"
                " the address limiter lets through only credentials the facade already holds as valid)"
                if since_flood is not None
                else ""
            ),
        ]
    )
    report.add(
        Row(
            "3",
            "Revocation closes an open WebSocket",
            "graphql-transport-ws `subscription { orderStatusChanged { __typename } }` with a fresh partner's key,"
            " then `mesctl partners revoke-key`; then an HTTP query with that key",
            answer,
            "close 4403 'API key revoked' within 5 s; HTTP 401",
            verdict(ok),
        ),
        detail,
    )


# -- probe 4 -------------------------------------------------------------------------------------


async def probe_big_body(stack: Stack, report: Report) -> None:
    pid = stack_process(stack, "facade", "graphql_facade")
    candidates = await pgrep("python -m graphql_facade")
    before = memory_of(pid)
    total = 300 * 1024 * 1024
    chunk = b"x" * 65536
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "'
        while sent < total:
            sent += len(chunk)
            yield chunk
        yield b'"}'

    start = time.perf_counter()
    async with new_client(1) as client:
        try:
            r = await client.post(
                stack.graphql,
                content=body(),
                headers=partner_headers(stack.key_b),
                timeout=httpx.Timeout(120.0, connect=10.0),
            )
            a = Answer(r.status_code, r.headers, _decode(r), (time.perf_counter() - start) * 1000)
        except httpx.HTTPError as exc:
            a = Answer(
                None, httpx.Headers(), None, (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}"
            )
    # httpx sends the whole body before it reads the answer: replay on a raw socket that reads while it
    # writes, to see when the answer comes and whether the server stops reading
    raw: dict[str, Any] | None = None
    try:
        raw = await raw_chunked_post(stack, total)
    except (OSError, TimeoutError) as exc:
        raw = {"summary": f"raw replay failed: {type(exc).__name__}: {exc}"}
    after = memory_of(pid)
    if a.status is not None:
        report.keep_headers("413 (probe 4)" if a.status == 413 else f"{a.status} (probe 4)", a)
    status = a.status if a.status is not None else (raw or {}).get("status")
    code_ok = (a.codes == ["PAYLOAD_TOO_LARGE"]) or (raw is not None and "PAYLOAD_TOO_LARGE" in raw.get("body", ""))
    grew_hwm = after["VmHWM"] - before["VmHWM"]
    grew_rss = after["VmRSS"] - before["VmRSS"]
    ok = status == 413 and code_ok and grew_hwm < 50 * 1024 and grew_rss < 50 * 1024
    answer = (
        f"{a.short()} after {a.ms / 1000:.2f} s, {sent / 1048576:.1f} MB generated by the client;"
        f" facade (pid {pid}) VmRSS {before['VmRSS'] // 1024} -> {after['VmRSS'] // 1024} MB,"
        f" VmHWM {before['VmHWM'] // 1024} -> {after['VmHWM'] // 1024} MB"
    )
    if raw is not None:
        answer += f"; raw socket: {raw.get('summary')}"
    detail = "\n".join(
        [
            f"`pgrep -f 'python -m graphql_facade'` found {candidates}; the stack's facade (stack.json) is {pid}.",
            f"Answer body: `{json.dumps(a.body)[:400]}`",
            f"Headers: RateLimit={a.headers.get('ratelimit')!r},"
            f" RateLimit-Policy={a.headers.get('ratelimit-policy')!r},"
            f" connection={a.headers.get('connection')!r}",
            f"Memory (kB): before {before}, after {after}.",
            *([f"Raw socket replay: {raw}"] if raw else []),
        ]
    )
    report.add(
        Row(
            "4",
            "300 MB chunked POST",
            "POST /graphql, B's key, content-type application/json, Transfer-Encoding chunked (64 KB chunks from an"
            " async generator), no Content-Length",
            answer,
            "413 PAYLOAD_TOO_LARGE; facade memory stays low",
            verdict(ok),
        ),
        detail,
    )


async def raw_chunked_post(stack: Stack, total: int) -> dict[str, Any]:
    """Write a chunked body on a raw socket while reading: the answer and how much was written."""
    host, _, port = stack.base.split("://", 1)[1].partition(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port or 80)), 10)
    head = (
        f"POST /graphql HTTP/1.1\r\nhost: {host}\r\nx-api-key: {stack.key_b}\r\n"
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    written = 0
    written_at_answer = -1
    write_error: str | None = None

    async def write() -> None:
        nonlocal written, write_error
        try:
            writer.write(head)
            while written < total:
                writer.write(frame)
                await writer.drain()
                written += len(chunk)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            write_error = f"{type(exc).__name__}: {exc}"

    writing = asyncio.create_task(write())
    response = b""
    try:
        async with asyncio.timeout(60):
            while b"\r\n\r\n" not in response:
                data = await reader.read(65536)
                if not data:
                    break
                if not response:
                    written_at_answer = written
                response += data
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    while data := await reader.read(65536):
                        response += data
    except TimeoutError:
        pass
    server_closed = writing.done() and write_error is not None
    writing.cancel()
    await asyncio.gather(writing, return_exceptions=True)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    text = response.decode(errors="replace")
    status = None
    if text.startswith("HTTP/1.1 "):
        status = int(text.split()[1])
    return {
        "status": status,
        "body": text.split("\r\n\r\n", 1)[-1][:300],
        "written_mb_at_answer": round(written_at_answer / 1048576, 1),
        "written_mb_in_all": round(written / 1048576, 1),
        "write_error": write_error,
        "server_closed_while_writing": server_closed,
        "summary": f"HTTP {status} when {written_at_answer / 1048576:.1f} MB had been written"
        f" ({written / 1048576:.1f} MB in all{', then the write failed: ' + write_error if write_error else ''})",
    }


# -- probe 5 -------------------------------------------------------------------------------------


async def probe_deep_json(stack: Stack, report: Report) -> None:
    depth = 100_000
    body = b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * depth + b"]" * depth + b"}}"
    async with new_client(1) as client:
        a = await post(client, stack.graphql, headers=partner_headers(stack.key_b), content=body)
    report.keep_headers(f"{a.status} (probe 5)", a)
    ok = a.status == 400 and a.codes == ["BAD_REQUEST"]
    message = a.errors[0].get("message") if a.errors else None
    report.add(
        Row(
            "5",
            "JSON nested 100,000 levels",
            f"POST body ({len(body) // 1024} KB) whose `variables` nest 100,000 lists deep, B's key",
            f"{a.short()} in {a.ms:.0f} ms, message {message!r}",
            "400 BAD_REQUEST (not 500)",
            verdict(ok),
        ),
        f"Body: `{json.dumps(a.body)[:400]}`",
    )


# -- probe 6 -------------------------------------------------------------------------------------


async def probe_grpc_garbage(stack: Stack, report: Report) -> None:
    method = "/mes.orders.v1.OrdersService/GetOrder"
    async with grpc.aio.insecure_channel(stack.orders_addr) as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            await call(b"\xff\xff\xff\xff", timeout=10)
            code, details, trailing = "OK", "", ""
        except grpc.aio.AioRpcError as exc:
            code, details = exc.code().name, exc.details() or ""
            trailing = ", ".join(k for k, _ in (exc.trailing_metadata() or ()))
    leaks = re.findall(r"\b[A-Z][a-zA-Z]+(?:Error|Exception)\b|Traceback|google\.protobuf|\.py\b", details)
    ok = code == "INVALID_ARGUMENT" and not leaks
    report.add(
        Row(
            "6",
            "Malformed protobuf over gRPC, no credentials",
            f"raw unary {method} at {stack.orders_addr}, request bytes ff ff ff ff, no metadata",
            f"{code} {details!r}",
            "INVALID_ARGUMENT with a generic message (no Python class names)",
            verdict(ok) + (f" (leaks {leaks})" if leaks else ""),
        ),
        f"Status {code}, details {details!r}; trailing metadata keys: {trailing or 'none'}.",
    )


# -- probe 7 -------------------------------------------------------------------------------------


async def collect(ws: ClientConnection, into: list[dict[str, Any]], stop: asyncio.Event) -> str:
    try:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            if message.get("type") == "next":
                into.append(((message.get("payload") or {}).get("data") or {}).get("orderStatusChanged") or {})
            elif message.get("type") in ("error", "complete"):
                into.append({"__message": message})
            elif message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else '?'} {exc.rcvd.reason if exc.rcvd else ''}"
    return "open"


async def probe_sequences(stack: Stack, report: Report) -> list[str]:
    """B follows its orders while A is busy: what B sees must say nothing about A's activity."""
    b_events: list[dict[str, Any]] = []
    op_events: list[dict[str, Any]] = []
    resumed: list[dict[str, Any]] = []
    stop = asyncio.Event()
    b_headers = partner_headers(stack.key_b)
    async with new_client(2) as client:
        as_of = await post(client, stack.graphql, headers=b_headers, query="{ asOf { position } }")
        before = ((as_of.body or {}).get("data") or {}).get("asOf", {}).get("position")
        seq_probe = await post(client, stack.graphql, headers=b_headers, query="{ asOf { seq } }")
    ws_b = await ws_open(stack.ws, {"apiKey": stack.key_b}, STATUS_SUBSCRIPTION)
    ws_op = await ws_open(stack.ws, {"token": stack.operator_token}, OPERATOR_STATUS_SUBSCRIPTION)
    b_orders: list[str] = []
    a_orders: list[str] = []
    outcomes: list[str] = []
    try:
        tasks = [
            asyncio.create_task(collect(ws_b, b_events, stop)),
            asyncio.create_task(collect(ws_op, op_events, stop)),
        ]
        await asyncio.sleep(1.0)
        run = secrets.token_hex(3)
        async with new_client(2) as client:
            for i, who in enumerate("AAABAB"):
                key = stack.key_a if who == "A" else stack.key_b
                a = await submit(client, stack, key, f"SEQ-{run}-{who}{i}")
                outcomes.append(f"{who}: {a.short()}")
                order = (((a.body or {}).get("data") or {}).get("submitOrder") or {}).get("order") or {}
                if order.get("id"):
                    (b_orders if who == "B" else a_orders).append(order["id"])
                if i == 2:  # A's first three orders are in: B's position must not have moved
                    await asyncio.sleep(4.0)
                    middle = await post(client, stack.graphql, headers=b_headers, query="{ asOf { position } }")
                await asyncio.sleep(0.3)
        await asyncio.sleep(8.0)
        stop.set()
        closes = await asyncio.gather(*tasks)
    finally:
        await ws_b.close()
        await ws_op.close()
    after_a = ((middle.body or {}).get("data") or {}).get("asOf", {}).get("position")
    b_changes = [e for e in b_events if e.get("__typename") == "OrderStatusChanged"]
    positions = [str(e.get("position")) for e in b_changes]
    numeric = [e for e in b_events if "seq" in e or any(isinstance(v, int) for v in e.values())]
    foreign = [e for e in b_events if e.get("orderId") and e["orderId"] not in b_orders]
    # Resume after B's first event: every later event of B comes again, nothing else.
    if positions:
        ws_r = await connect(stack.ws, subprotocols=[WS_PROTOCOL], open_timeout=10, close_timeout=5)
        await ws_r.send(json.dumps({"type": "connection_init", "payload": {"apiKey": stack.key_b}}))
        await asyncio.wait_for(ws_r.recv(), 10)
        query = STATUS_SUBSCRIPTION.replace("subscription {", "subscription($s: String) {").replace(
            "orderStatusChanged {", "orderStatusChanged(since: $s) {"
        )
        payload = {"query": query, "variables": {"s": positions[0]}}
        await ws_r.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        stop_r = asyncio.Event()
        reader = asyncio.create_task(collect(ws_r, resumed, stop_r))
        await asyncio.sleep(2.0)
        stop_r.set()
        await reader
        await ws_r.close()
    resumed_ok = [e.get("position") for e in resumed] == positions[1:]
    op_seqs = sorted(int(e["seq"]) for e in op_events if "seq" in e)
    b_lines = [
        f"position={e.get('position')} {str(e.get('orderId'))[:13]}.. {e.get('fromStatus')} -> {e.get('toStatus')}"
        f" {e.get('reason') or ''}"
        for e in b_events
    ]
    resumed_text = (
        "exactly B's later events" if resumed_ok else f"{len(resumed)} messages, not B's {len(positions) - 1} later"
    )
    ok = (
        bool(before)
        and before == after_a
        and not numeric
        and not foreign
        and resumed_ok
        and seq_probe.codes == ["GRAPHQL_VALIDATION_FAILED"]
    )
    answer = (
        f"B's asOf position before and after A's 3 orders: {'the same' if before == after_a else 'DIFFERENT'}"
        f" ({before}); B's {len(b_changes)} events carry positions only ({len(numeric)} with a number);"
        f" `asOf {{ seq }}` for B: {seq_probe.short()}; resumed after B's first position: "
        f"{resumed_text}"
        f"; {len(foreign)} events of other orders"
    )
    detail = "\n".join(
        [
            "Submissions: " + "; ".join(outcomes),
            f"B's orders: {b_orders}; A's orders: {a_orders}",
            "B's events:",
            *(f"- `{line}`" for line in b_lines),
            f"Operator subscription (stream sequences): {len(op_seqs)} events, seqs {op_seqs}.",
            f"Sockets at the end: {closes}.",
        ]
    )
    report.add(
        Row(
            "7",
            "Stream sequences reveal other partners' activity",
            "B reads asOf, A submits 3 orders, B reads asOf again; B subscribes and submits 2 orders between"
            " A's; B resumes after its first position",
            answer,
            "positions sealed to the partner: opaque, unmoved by other partners' events; `since` resumes",
            verdict(ok) + (f"; LEAK: B saw {len(foreign)} foreign events" if foreign else ""),
        ),
        detail,
    )
    return b_orders


# -- probe 8 -------------------------------------------------------------------------------------


async def probe_internal_names(stack: Stack, report: Report, b_orders: Sequence[str]) -> None:
    async with new_client(2) as client:
        bad_input = {
            "partnerReference": "",
            "dueTime": "2031-12-31T00:00:00Z",
            "priority": "NORMAL",
            "lines": [{"styleCode": "NOPE-XXX-999", "alloyCode": "AU750Y", "quantity": 0}],
        }
        a = await post(
            client,
            stack.graphql,
            headers=partner_headers(stack.key_b),
            query=SUBMIT_ORDER,
            variables={"k": f"replay-bad-{secrets.token_hex(4)}", "i": bad_input},
        )
        violations = [v for e in a.errors for v in (e.get("extensions") or {}).get("fieldViolations") or []]
        fields = [str(v.get("field")) for v in violations]
        snake = [f for f in fields if re.search(r"[a-z]_[a-z]", f)]
        names_ok = (
            "INVALID_ARGUMENT" in a.codes
            and "input.partnerReference" in fields
            and "input.lines[0].quantity" in fields
            and not snake
        )
        report.add(
            Row(
                "8a",
                "Internal names in validation errors",
                "submitOrder as B: partnerReference '', one line with quantity 0 and styleCode NOPE-XXX-999",
                f"{a.short()}; fieldViolations fields {fields}",
                "fields like input.partnerReference, input.lines[0].quantity (GraphQL names, no snake_case)",
                verdict(names_ok) + (f" (snake_case: {snake})" if snake else ""),
            ),
            f"Body: `{json.dumps(a.body)[:800]}`",
        )

        c = await post(
            client,
            stack.graphql,
            headers=partner_headers(stack.key_b),
            query='{ orders(first: 5, after: "bm90LWEtY3Vyc29y") { nodes { id } } }',
        )
        c_fields = [
            str(v.get("field")) for e in c.errors for v in (e.get("extensions") or {}).get("fieldViolations") or []
        ]
        c_message = " / ".join(str(e.get("message")) for e in c.errors)
        c_ok = c.codes == ["INVALID_ARGUMENT"] and "after" in c_fields and "cursor" in c_message.lower()
        report.add(
            Row(
                "8b",
                "Forged pagination cursor",
                '`{ orders(first: 5, after: "bm90LWEtY3Vyc29y") { nodes { id } } }` as B ("not-a-cursor")',
                f"{c.short()}; message {c_message!r}; fields {c_fields}",
                "INVALID_ARGUMENT naming `after`, message about the cursor",
                verdict(c_ok),
            ),
            f"Body: `{json.dumps(c.body)[:600]}`",
        )

        order_id = b_orders[0] if b_orders else None
        note = ""
        if order_id is None:
            s = await submit(client, stack, stack.key_b, f"CANCEL-{secrets.token_hex(3)}")
            order_id = (((s.body or {}).get("data") or {}).get("submitOrder") or {}).get("order", {}).get("id")
            note = f"(probe 7 gave no order of B: submitted one, {s.short()}) "
        if not order_id:
            raise RuntimeError("no order of B to cancel")
        k = await post(
            client,
            stack.graphql,
            headers=operator_headers(stack.operator_token),
            query="mutation($id: ID!) { cancelOrder(id: $id) { id status statusReason } }",
            variables={"id": order_id},
        )
        await asyncio.sleep(1.5)  # the response cache may serve an answer up to 1 s stale
        r = await post(
            client,
            stack.graphql,
            headers=partner_headers(stack.key_b),
            query="query($id: ID!) { order(id: $id) { id status statusReason"
            " statusHistory { fromStatus toStatus reason } } }",
            variables={"id": order_id},
        )
    order = ((r.body or {}).get("data") or {}).get("order") if isinstance(r.body, dict) else None
    history = (order or {}).get("statusHistory") or []
    cancelled = [h for h in history if h.get("toStatus") == "CANCELLED"]
    reason = cancelled[-1].get("reason") if cancelled else None
    k_order = ((k.body or {}).get("data") or {}).get("cancelOrder") if isinstance(k.body, dict) else None
    ok = k.status == 200 and not k.codes and reason == "cancelled by the manufacturer"
    report.add(
        Row(
            "8c",
            "Operator cancellation reason as a partner reads it",
            f"{note}operator `cancelOrder(id)` without a reason (Bearer {stack.operator_token}) on B's order"
            f" {order_id}; then B reads `order {{ statusHistory {{ reason }} }}`",
            f"cancel: {k.short()} {k_order}; B reads status {(order or {}).get('status')},"
            f" statusReason {(order or {}).get('statusReason')!r}, CANCELLED entry reason {reason!r}",
            "reason 'cancelled by the manufacturer'",
            verdict(ok),
        ),
        f"Operator answer: `{json.dumps(k.body)[:400]}`\n\nB's read: `{json.dumps(r.body)[:800]}`",
    )


# -- probe 9 -------------------------------------------------------------------------------------


def probe_headers(report: Report) -> None:
    lines = []
    needed = {"200": False, "429": False, "413": False}
    ok = True
    for label, (status, rl, policy, retry) in report.header_samples.items():
        present = bool(rl) and bool(policy)
        lines.append(f"- {label}: RateLimit={rl!r}; RateLimit-Policy={policy!r}; Retry-After={retry!r}")
        if str(status) in needed and "unauthenticated" not in label:
            needed[str(status)] = True
            ok = ok and present
    missing = [s for s, seen in needed.items() if not seen]
    summary = "; ".join(
        f"{label}: "
        + ("both" if rl and policy else f"MISSING {'RateLimit ' if not rl else ''}{'' if policy else 'Policy'}")
        + ("" if str(status) in needed and "unauthenticated" not in label else " (not required)")
        for label, (status, rl, policy, _) in report.header_samples.items()
    )
    report.add(
        Row(
            "9",
            "RateLimit headers on every partner answer",
            "the answers kept from probes 1-5 (200, 429, 413, and the others seen)",
            summary + (f"; no sample of {missing}" if missing else ""),
            "RateLimit and RateLimit-Policy on the 200, the 429 and the 413",
            verdict(ok and not missing),
        ),
        "\n".join(lines),
    )


# -- probe 10 ------------------------------------------------------------------------------------


async def probe_outage(stack: Stack, report: Report) -> None:
    from mes_kernel import api_keys

    pid = stack_process(stack, "orders", "services.orders")
    matched = await pgrep("services.orders")
    fresh_key = api_keys.issue()
    async with new_client(4) as b_client, new_client(4) as n_client:
        warm = await post(b_client, stack.graphql, headers=partner_headers(stack.key_b), query=CHEAP_QUERY)
        with contextlib.suppress(httpx.HTTPError):
            await n_client.get(f"{stack.base}/healthz", timeout=10)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.perf_counter()
        timeline: list[str] = []
        firsts: dict[str, Answer] = {}
        for attempt in range(15):
            doc = f"query Outage{attempt} {{ orders(first: {attempt % 5 + 6}) {{ nodes {{ id status }} }} }}"
            b, n = await asyncio.gather(
                post(b_client, stack.graphql, headers=partner_headers(stack.key_b), query=doc, timeout=15),
                post(n_client, stack.graphql, headers=partner_headers(fresh_key), query=doc, timeout=15),
            )
            at = time.perf_counter() - killed_at
            firsts.setdefault("B", b)
            firsts.setdefault("new", n)
            timeline.append(f"t+{at:.2f} s: B {_outage_short(b)}; new key {_outage_short(n)}")
            if b.status is None and n.status is None:
                break
            await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    stack_alive = (stack.data_dir / "stack.json").is_file()
    for label, a in firsts.items():
        if a.status is not None:
            report.keep_headers(f"{a.status} (probe 10, {label})", a)

    def shaped(a: Answer) -> bool:
        err = a.errors[0] if a.errors else {}
        ext = err.get("extensions") or {}
        return (
            a.status == 503
            and ext.get("code") == "UNAVAILABLE"
            and ext.get("retryable") is True
            and bool(a.headers.get("retry-after"))
        )

    ok = all(shaped(a) for a in firsts.values()) and len(firsts) == 2
    report.add(
        Row(
            "10",
            "Outage shape (orders service SIGKILLed)",
            f"SIGKILL to the orders API process (pid {pid} from stack.json); then as B (key cached, warmed with"
            f" {warm.short()}) and with a brand-new well-formed key (api_keys.issue()) a query on orders",
            f"first answers: B {_outage_short(firsts['B'])}; new key {_outage_short(firsts['new'])}"
            f"; stack.json {'still there' if stack_alive else 'removed (the supervisor stopped the stack)'}",
            "both HTTP 503 UNAVAILABLE, retryable: true, Retry-After",
            verdict(ok),
        ),
        "\n".join(
            [
                f"`pgrep -f services.orders` matched {matched} (the stack's API process, its worker, and any other"
                f" stack on the machine); the probe killed only {pid} (`{cmdline(pid) or 'gone'}`).",
                "Timeline after the kill:",
                *(f"- {line}" for line in timeline),
                f"B's first body: `{json.dumps(firsts['B'].body)[:500]}`",
                f"New key's first body: `{json.dumps(firsts['new'].body)[:500]}`",
            ]
        ),
    )


def _outage_short(a: Answer) -> str:
    if a.status is None:
        return f"no answer ({(a.error or '').split(':')[0]})"
    ext = (a.errors[0].get("extensions") or {}) if a.errors else {}
    return f"{a.short()} retryable={ext.get('retryable')} Retry-After={a.headers.get('retry-after')}"


# -- start-up refusals ---------------------------------------------------------------------------


async def startup_checks(report: Report, timeout: float) -> None:
    cases = [
        ("services.orders on 0.0.0.0, no token variables", {"MES_ORDERS_GRPC_HOST": "0.0.0.0"}, "services.orders"),
        ("graphql_facade on 0.0.0.0, no token variables", {"MES_FACADE_HOST": "0.0.0.0"}, "graphql_facade"),
        (
            "graphql_facade with MES_FACADE_SERVICE_TOKEN=REPLACE_ME",
            {"MES_FACADE_SERVICE_TOKEN": "REPLACE_ME"},
            "graphql_facade",
        ),
    ]
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MES_") and k not in ("AUTH_TOKENS", "PAGE_TOKEN_SECRET", "DATABASE_URL", "NATS_URL")
    }
    for number, (title, extra, module) in enumerate(cases, start=1):
        env = {**base_env, **extra}
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
        )
        killed = False
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            killed = True
            proc.send_signal(signal.SIGINT)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 10)
            except TimeoutError:
                proc.kill()
                out, err = await proc.communicate()
        elapsed = time.perf_counter() - start
        text = (err.decode(errors="replace") + out.decode(errors="replace")).strip()
        lines = [line for line in text.splitlines() if line.strip()]
        first, last = (lines[0], lines[-1]) if lines else ("(no output)", "")
        named = next(iter(extra))
        ok = not killed and proc.returncode == 2 and elapsed < 15 and (number < 3 or named in text)
        report.add(
            Row(
                f"S{number}",
                f"Start-up refusal: {title}",
                " ".join(f"{k}={v}" for k, v in extra.items()) + f" python -m {module}",
                ("still running after the timeout: stopped; " if killed else "")
                + f"exit code {proc.returncode} after {elapsed:.1f} s; first line: {first[:300]!r}"
                + (
                    f"; the message is the traceback's last line: {last[:300]!r}"
                    if first.startswith("Traceback")
                    else ""
                ),
                "refuses to start with a clear message, exit code 2, within a few seconds"
                + (" (naming the variable)" if number == 3 else ""),
                verdict(ok),
            ),
            "Output (last 15 lines):\n\n```\n" + "\n".join(text.splitlines()[-15:]) + "\n```",
        )


# -- main ----------------------------------------------------------------------------------------


async def run_probe(report: Report, number: str, title: str, probe: Awaitable[Any], timeout: float) -> Any:
    """Run one probe; a failure becomes a row that says why it could not run."""
    print(f"[{number}] {title} ...", file=sys.stderr, flush=True)
    try:
        return await asyncio.wait_for(probe, timeout)
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        report.add(Row(number, title, "-", f"could not run: {reason}", "-", "NOT RUN"), f"Could not run: {reason}")
        return None


async def main_async(args: argparse.Namespace) -> int:
    report = Report()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    if args.startup_checks:
        await startup_checks(report, args.startup_timeout)
        print(f"# Start-up refusals ({started})\n")
        print(report.markdown())
        return 0
    stack = load_stack(args.url, args.data_dir, args.operator_token, args.metrics_url)
    async with new_client(1) as client:
        try:
            health = await client.get(f"{stack.base}/healthz", timeout=10)
        except httpx.HTTPError as exc:
            print(
                f"the facade at {stack.base} does not answer ({exc}); start the stack: python3 dev.py up",
                file=sys.stderr,
            )
            return 2
    if health.status_code != 200:
        print(f"{stack.base}/healthz answered {health.status_code}: {health.text[:200]}", file=sys.stderr)
        return 2
    skip = set(args.skip)
    if "1" not in skip:
        await run_probe(report, "1", "Flood by A", probe_flood_a(stack, report, args.seed_orders), 300)
    ended = None
    if "2" not in skip:
        ended = await run_probe(report, "2", "Bad-key flood", probe_bad_keys(stack, report), 120)
    if "3" not in skip:
        await run_probe(report, "3", "Revocation closes an open WebSocket", probe_revocation(stack, report, ended), 180)
    if "4" not in skip:
        await run_probe(report, "4", "300 MB chunked POST", probe_big_body(stack, report), 240)
    if "5" not in skip:
        await run_probe(report, "5", "JSON nested 100,000 levels", probe_deep_json(stack, report), 60)
    if "6" not in skip:
        await run_probe(report, "6", "Malformed protobuf over gRPC", probe_grpc_garbage(stack, report), 30)
    b_orders: list[str] = []
    if "7" not in skip:
        b_orders = await run_probe(report, "7", "Sequences", probe_sequences(stack, report), 90) or []
    if "8" not in skip:
        await run_probe(report, "8", "Internal names", probe_internal_names(stack, report, b_orders), 90)
    if "9" not in skip:
        probe_headers(report)
    if "10" not in skip:
        await run_probe(report, "10", "Outage shape", probe_outage(stack, report), 120)
    print(f"# Replay of the security review's attacks ({started}, {stack.base}, data {stack.data_dir})\n")
    print(report.markdown())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8180", help="the facade's base URL")
    parser.add_argument(
        "--metrics-url",
        default=None,
        help=f"the facade's Prometheus endpoint (default: --url's host, port {DEFAULT_METRICS_PORT}, /metrics)",
    )
    parser.add_argument("--data-dir", default=str(ROOT / "var"), help="the stack's data folder (keys, stack.json)")
    parser.add_argument("--operator-token", default=OPERATOR_TOKEN_DEFAULT, help="the dashboard's bearer token")
    parser.add_argument("--seed-orders", type=int, default=100, help="orders A submits before probe 1 (0: none)")
    parser.add_argument("--skip", nargs="*", default=[], help="probe numbers to skip (e.g. --skip 10)")
    parser.add_argument("--startup-checks", action="store_true", help="only the start-up refusals (no stack needed)")
    parser.add_argument(
        "--startup-timeout", type=float, default=20.0, help="seconds before a started process is stopped"
    )
    parser.add_argument("--b-sender", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.b_sender:
        samples = asyncio.run(
            b_sender(args.url.rstrip("/") + "/graphql", os.environ["REPLAY_B_KEY"], args.seconds, 1.0)
        )
        print(json.dumps(samples))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
