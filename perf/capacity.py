"""A capacity model of Jewelry MES: replicas per process for N partners at M orders/s, from measured CPU.

    python perf/capacity.py measure [--out perf/capacity_inputs.json] [--backlog 1000] [--rounds 2]
    python perf/capacity.py table   --partners N --orders-per-s M [--inputs FILE] [workload knobs]
    python perf/capacity.py check   [--inputs FILE] [--backlog 1000] [--rounds 2] [--tolerance 0.25]

``measure`` starts the bench stack (``perf/_stack.py``: the local stack's own processes, services split
into API and worker processes, one nats-server, a PostgreSQL database of its own on the server of
``MES_BENCH_POSTGRES_URL``) and reads, per process, the CPU it used (``/proc/<pid>/stat``; the
PostgreSQL backends of the bench database by ``pg_stat_activity``) over saga drains (the cost of one
order after its submission, ``perf/_drain.py``) and over closed-loop windows of each partner and
operator request kind through a GraphQL facade. It also counts, per order and per request, the
JetStream messages and stored bytes (stream state), the deliveries to durable consumers, and the
PostgreSQL commits and rows written (``pg_stat_database`` of the bench database). It writes them as
the model's inputs (``perf/capacity_inputs.json`` holds the committed ones, with the command, date,
commit and machine load of the run).

``table`` is the model: per process, the CPU the workload needs (rate of each request kind x its
CPU per request, plus orders/s x the saga's CPU per order), the replicas at a target utilisation,
the orders/s at which each process saturates with one replica (the first bottleneck and where it
moves), the ceilings of what does not scale out by adding replicas (the PostgreSQL writer, one
JetStream stream leader), and what the JetStream cluster and the PostgreSQL writer must sustain.

``check`` tests one prediction of the model on this machine: the saga drain rate of the local
processes on the cores the rest of the machine leaves them, predicted from the inputs file's CPU per
order (orders/s = (cores left - the idle processes' background) / CPU seconds per order over every
process of the drain), then measured by fresh drains (orders / seconds from the resumption of the
consumers until the whole pipeline is idle). Exit status 1 when the median of measured / predicted is
outside the tolerance.

See ``docs/capacity.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_ROOT), str(_ROOT / "protos" / "gen")]

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "PROCESSES",
    "REQUEST_KINDS",
    "Capacity",
    "Inputs",
    "ProcessLoad",
    "Workload",
    "check_verdict",
    "load_inputs",
    "model",
    "predict_drain_rate",
    "render_table",
]

INPUTS_FILE = Path(__file__).resolve().parent / "capacity_inputs.json"

#: The processes of the model: each service's API and worker roles, the GraphQL facade, a nats-server
#: node and PostgreSQL (the writer: saga and submissions; readers: the uncached reads).
SERVICES = ("orders", "inventory", "production", "webhooks", "analytics")
PROCESSES = (
    "facade",
    *(name for svc in SERVICES for name in (svc, f"{svc}-worker")),
    "nats",
    "postgres-writer",
    "postgres-reader",
)
#: Processes that do not scale out by adding replicas of their own: reported as ceilings.
SINGLE = ("nats", "postgres-writer")

#: Request kinds measured through the facade. ``submit`` writes (its PostgreSQL share goes to the
#: writer); the others read (their PostgreSQL share goes to the readers). ``*_cached``: the facade's
#: response cache answers; ``*_uncached``: a facade with ``MES_FACADE_CACHE=0`` computes the answer.
REQUEST_KINDS = (
    "submit",
    "status_cached",
    "status_uncached",
    "list_cached",
    "list_uncached",
    "board_cached",
    "board_uncached",
)
WRITE_KINDS = ("submit",)


class InputsError(ValueError):
    """An inputs file the model cannot use (a missing process, kind or figure)."""


# -- the model (pure arithmetic) -------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """Measured costs: ms of CPU per order of the saga per process (after the submission), ms of CPU
    per request of each kind per process, and the per-order traffic of JetStream and PostgreSQL."""

    #: process -> ms CPU per order, the saga's drain (every process; PostgreSQL as "postgres").
    per_order_ms: Mapping[str, float]
    #: kind -> process -> ms CPU per request (PostgreSQL as "postgres").
    per_request_ms: Mapping[str, Mapping[str, float]]
    #: JetStream messages stored per order (saga) and per submit request.
    messages_per_order: float
    #: Stream bytes stored per order (one replica), saga and submit request together.
    stream_bytes_per_order: float
    #: Deliveries to durable consumers per order (every consumer of every message).
    deliveries_per_order: float
    #: PostgreSQL commits and rows written (inserted + updated + deleted) per order on the writer.
    commits_per_order: float
    rows_per_order: float
    #: JetStream messages per read request (the facade's API-usage events), by kind.
    messages_per_request: Mapping[str, float] = field(default_factory=dict)
    #: process -> cores an idle replica uses (relay polls, heartbeats); the costs above exclude it.
    background_cores: Mapping[str, float] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)

    def validate(self) -> Inputs:
        missing = [k for k in REQUEST_KINDS if k not in self.per_request_ms]
        if missing:
            raise InputsError(f"inputs lack the CPU per request of {', '.join(missing)}")
        if not self.per_order_ms:
            raise InputsError("inputs lack the saga's CPU per order")
        for what, values in [
            ("per order", self.per_order_ms),
            ("background", self.background_cores),
            *self.per_request_ms.items(),
        ]:
            bad = {p: v for p, v in values.items() if not isinstance(v, int | float) or v < 0 or math.isnan(v)}
            if bad:
                raise InputsError(f"inputs {what}: CPU must be a number >= 0 ms, got {bad}")
        for name in ("messages_per_order", "stream_bytes_per_order", "deliveries_per_order", "commits_per_order"):
            if getattr(self, name) < 0:
                raise InputsError(f"inputs {name} must be >= 0")
        return self


def load_inputs(path: Path) -> Inputs:
    """The inputs ``measure`` wrote (``--out``), validated."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputsError(f"{path}: no such inputs file (write one with `python perf/capacity.py measure`)") from None
    except json.JSONDecodeError as err:
        raise InputsError(f"{path}: not JSON ({err})") from None
    try:
        model_inputs = raw["model"]
        return Inputs(
            per_order_ms=dict(model_inputs["per_order_ms"]),
            per_request_ms={k: dict(v) for k, v in model_inputs["per_request_ms"].items()},
            messages_per_order=float(model_inputs["messages_per_order"]),
            stream_bytes_per_order=float(model_inputs["stream_bytes_per_order"]),
            deliveries_per_order=float(model_inputs["deliveries_per_order"]),
            commits_per_order=float(model_inputs["commits_per_order"]),
            rows_per_order=float(model_inputs["rows_per_order"]),
            messages_per_request=dict(model_inputs.get("messages_per_request", {})),
            background_cores=dict(model_inputs.get("background_cores", {})),
            source=raw.get("source", {}),
        ).validate()
    except (KeyError, TypeError, AttributeError) as err:
        raise InputsError(f"{path}: not a capacity inputs file (missing {err})") from None


@dataclass(frozen=True)
class Workload:
    """N partners at M orders/s and how they and the operators read.

    Partners submit every order through the facade and poll its status; each partner also polls its
    latest orders; operators' screens read the board. A share of partner reads finds no cached
    answer (the order changed since the last poll). Every facade replica recomputes the board at most
    ``board_recomputes_per_s`` times a second while orders change (``MES_FACADE_CACHE_REFRESH_INTERVAL_MS``,
    500 ms: 2 a second)."""

    partners: int
    orders_per_s: float
    status_polls_per_order: float = 10.0
    list_polls_per_partner_s: float = 0.1
    screens: int = 20
    board_reads_per_screen_s: float = 0.5
    read_miss_share: float = 0.2
    board_recomputes_per_s: float = 2.0
    target_utilisation: float = 0.6
    stream_replicas: int = 3
    #: Cores of the PostgreSQL writer's machine and of one JetStream node (ceilings).
    writer_cores: int = 8
    nats_node_cores: int = 4

    def validate(self) -> Workload:
        if self.partners < 1:
            raise ValueError(f"partners must be >= 1, got {self.partners}")
        if self.orders_per_s < 0:
            raise ValueError(f"orders per second must be >= 0, got {self.orders_per_s}")
        if not 0 < self.target_utilisation <= 1:
            raise ValueError(f"target utilisation must be in (0, 1], got {self.target_utilisation}")
        if not 0 <= self.read_miss_share <= 1:
            raise ValueError(f"read miss share must be in [0, 1], got {self.read_miss_share}")
        for name in ("status_polls_per_order", "list_polls_per_partner_s", "board_reads_per_screen_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.screens < 0 or self.board_recomputes_per_s < 0:
            raise ValueError("screens and board recomputes must be >= 0")
        if self.stream_replicas not in (1, 3, 5):
            raise ValueError(f"stream replicas must be 1, 3 or 5, got {self.stream_replicas}")
        if self.writer_cores < 1 or self.nats_node_cores < 1:
            raise ValueError("writer and JetStream node cores must be >= 1")
        return self

    def request_rates(self) -> dict[str, float]:
        """Requests/s of each kind, except the board recomputations (they follow the facade replicas)."""
        polls = self.orders_per_s * self.status_polls_per_order
        lists = self.partners * self.list_polls_per_partner_s
        miss = self.read_miss_share
        return {
            "submit": self.orders_per_s,
            "status_cached": polls * (1 - miss),
            "status_uncached": polls * miss,
            "list_cached": lists * (1 - miss),
            "list_uncached": lists * miss,
            "board_cached": self.screens * self.board_reads_per_screen_s,
            "board_uncached": 0.0,
        }

    def recomputes_per_replica_s(self) -> float:
        return self.board_recomputes_per_s if self.orders_per_s > 0 and self.screens > 0 else 0.0


def _process_of(kind: str, process: str) -> str:
    """Where a measured process's CPU lands in the model (PostgreSQL: writer for writes, readers for reads)."""
    if process == "postgres":
        return "postgres-writer" if kind in WRITE_KINDS else "postgres-reader"
    return process


def _coefficients(inputs: Inputs, workload: Workload) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per process: (fixed cores, cores per order/s, cores per facade replica) of the workload.

    Fixed: what does not grow with orders (partners' list polls, operators' board reads). Per order/s:
    the saga, the submission and the status polls of one order a second. Per facade replica: its board
    recomputations (only while orders flow)."""
    rates_at_one = replace(workload, orders_per_s=1.0).request_rates()
    rates_at_zero = replace(workload, orders_per_s=0.0).request_rates()
    fixed: dict[str, float] = dict.fromkeys(PROCESSES, 0.0)
    per_order: dict[str, float] = dict.fromkeys(PROCESSES, 0.0)
    per_replica: dict[str, float] = dict.fromkeys(PROCESSES, 0.0)
    for process, ms in inputs.per_order_ms.items():
        per_order[_process_of("submit", process)] += ms / 1000.0
    for kind in REQUEST_KINDS:
        for process, ms in inputs.per_request_ms[kind].items():
            where = _process_of(kind, process)
            fixed[where] += rates_at_zero[kind] * ms / 1000.0
            per_order[where] += (rates_at_one[kind] - rates_at_zero[kind]) * ms / 1000.0
    recompute = workload.board_recomputes_per_s if workload.screens > 0 else 0.0
    for process, ms in inputs.per_request_ms["board_uncached"].items():
        per_replica[_process_of("board_uncached", process)] += recompute * ms / 1000.0
    return fixed, per_order, per_replica


@dataclass(frozen=True)
class ProcessLoad:
    process: str
    cores: float
    replicas: int
    #: Orders/s at which one replica reaches the target utilisation (inf: never; 0: already at M=0).
    saturates_at: float

    @property
    def per_replica(self) -> float:
        return self.cores / self.replicas if self.replicas else 0.0


@dataclass(frozen=True)
class Capacity:
    workload: Workload
    rates: dict[str, float]
    processes: list[ProcessLoad]
    #: Orders/s the unscalable parts reach at the target utilisation of their machine (inf: never).
    ceilings: dict[str, float]
    js_messages_s: float
    js_stored_bytes_s: float
    js_deliveries_s: float
    writer_commits_s: float
    writer_rows_s: float

    def load(self, process: str) -> ProcessLoad:
        return next(p for p in self.processes if p.process == process)

    def bottlenecks(self) -> list[ProcessLoad]:
        """Processes in the order they saturate with one replica each as orders/s grow."""
        scalable = [p for p in self.processes if p.process not in SINGLE and math.isfinite(p.saturates_at)]
        return sorted(scalable, key=lambda p: (p.saturates_at, p.process))


def model(inputs: Inputs, workload: Workload) -> Capacity:
    """The cores, replicas and traffic the workload needs, from the measured costs."""
    workload = workload.validate()
    inputs.validate()
    m = workload.orders_per_s
    u = workload.target_utilisation
    fixed, per_order, per_replica = _coefficients(inputs, workload)
    background = {_process_of("submit", p): cores for p, cores in inputs.background_cores.items()}
    for process, cores in background.items():
        if process not in SINGLE and cores >= u:
            raise ValueError(f"an idle {process} replica takes {cores:.2f} cores, above the target {u:.2f}")
    recompute_on = 1.0 if workload.recomputes_per_replica_s() > 0 else 0.0
    # each facade replica recomputes the board itself and idles on its own:
    # r >= (fixed + M x per order) / (u - recomputations per replica - background)
    k_facade = per_replica["facade"] * recompute_on + background.get("facade", 0.0)
    if k_facade >= u:
        raise ValueError(
            f"a facade replica's board recomputations alone take {k_facade:.2f} cores, above the target {u:.2f}"
        )
    facade_base = fixed["facade"] + m * per_order["facade"]
    facade_replicas = max(1, math.ceil(facade_base / (u - k_facade) - 1e-9))
    loads: list[ProcessLoad] = []
    for process in PROCESSES:
        idle = background.get(process, 0.0)
        if process == "facade":
            replicas = facade_replicas
            cores = facade_base + replicas * k_facade
        else:
            work = fixed[process] + m * per_order[process] + facade_replicas * per_replica[process] * recompute_on
            replicas = 1 if process in SINGLE else max(1, math.ceil(work / (u - idle) - 1e-9))
            cores = work + replicas * idle
        # one replica of each (one facade): the orders/s at which this process reaches u
        base = fixed[process] + per_replica[process] + idle  # recomputations run as soon as orders flow
        slope = per_order[process]
        if base >= u:
            saturates = 0.0
        elif slope <= 0:
            saturates = math.inf
        else:
            saturates = (u - base) / slope
        loads.append(ProcessLoad(process, cores, replicas, saturates))
    ceilings = {
        name: _ceiling(budget * u, fixed[name] + background.get(name, 0.0), per_order[name])
        for name, budget in (("postgres-writer", workload.writer_cores), ("nats", workload.nats_node_cores))
    }
    rates = workload.request_rates()
    rates["board_uncached"] = facade_replicas * workload.recomputes_per_replica_s()
    read_messages = sum(rates[k] * inputs.messages_per_request.get(k, 0.0) for k in REQUEST_KINDS if k != "submit")
    messages = m * inputs.messages_per_order + read_messages
    return Capacity(
        workload=workload,
        rates=rates,
        processes=loads,
        ceilings=ceilings,
        js_messages_s=messages,
        js_stored_bytes_s=m * inputs.stream_bytes_per_order * workload.stream_replicas,
        js_deliveries_s=m * inputs.deliveries_per_order,
        writer_commits_s=m * inputs.commits_per_order,
        writer_rows_s=m * inputs.rows_per_order,
    )


def _ceiling(budget: float, fixed: float, slope: float) -> float:
    if fixed >= budget:
        return 0.0
    return math.inf if slope <= 0 else (budget - fixed) / slope


def _num(value: float, digits: int = 1) -> str:
    if math.isinf(value):
        return "never"
    return f"{value:,.{digits}f}"


def render_table(cap: Capacity) -> str:
    """The model's answer for one workload, as markdown."""
    w = cap.workload
    u = w.target_utilisation
    lines = [
        f"### {w.partners:,} partners at {_num(w.orders_per_s, 0 if w.orders_per_s == int(w.orders_per_s) else 1)}"
        " orders/s",
        "",
        f"Requests/s: submit {_num(cap.rates['submit'])}, status polls {_num(cap.rates['status_cached'])} cached +"
        f" {_num(cap.rates['status_uncached'])} uncached, partners' list polls {_num(cap.rates['list_cached'])} +"
        f" {_num(cap.rates['list_uncached'])}, board reads {_num(cap.rates['board_cached'])} cached,"
        f" board recomputations {_num(cap.rates['board_uncached'])}.",
        "",
        f"| process | cores needed | replicas at {u:.0%} of a core | per replica | saturates alone at |",
        "|---|---|---|---|---|",
    ]
    for p in cap.processes:
        if p.process in SINGLE:
            writer = p.process == "postgres-writer"
            machine_cores = w.writer_cores if writer else w.nats_node_cores
            replicas = "1 (writer)" if writer else f"{w.stream_replicas} nodes (R{w.stream_replicas})"
            per = f"{p.cores / machine_cores:.0%} of {machine_cores} cores"
            ceiling = cap.ceilings[p.process]
            alone = "never (ceiling)" if math.isinf(ceiling) else f"{_num(ceiling, 0)} orders/s (ceiling)"
        else:
            replicas = str(p.replicas)
            per = f"{p.per_replica:.2f} cores"
            alone = "never" if math.isinf(p.saturates_at) else f"{_num(p.saturates_at, 0)} orders/s"
        lines.append(f"| {p.process} | {p.cores:.2f} | {replicas} | {per} | {alone} |")
    order = cap.bottlenecks()
    lines += [
        "",
        "First bottlenecks with one replica of each process, as orders/s grow: "
        + ", then ".join(f"{p.process} at {_num(p.saturates_at, 0)} orders/s" for p in order[:4])
        + ". Scaled out, the ceilings are the PostgreSQL writer"
        f" ({_num(cap.ceilings['postgres-writer'], 0)} orders/s on {w.writer_cores} cores at {u:.0%}) and one"
        f" JetStream stream leader ({_num(cap.ceilings['nats'], 0)} orders/s on {w.nats_node_cores} cores).",
        "",
        f"JetStream (R{w.stream_replicas}): {_num(cap.js_messages_s, 0)} messages/s published,"
        f" {_num(cap.js_messages_s * w.stream_replicas, 0)} replica writes/s,"
        f" {cap.js_stored_bytes_s / 1024:,.1f} KiB/s stored over the replicas,"
        f" {_num(cap.js_deliveries_s, 0)} deliveries/s to consumers.",
        f"PostgreSQL writer: {_num(cap.writer_commits_s, 0)} commits/s, {_num(cap.writer_rows_s, 0)} rows written/s,"
        f" {cap.load('postgres-writer').cores:.2f} cores of backend CPU.",
    ]
    return "\n".join(lines)


def predict_drain_rate(inputs: Inputs, cores: float) -> float:
    """Orders/s of a saga drain on ``cores`` if it is bound by CPU: (cores - the idle processes'
    background) / CPU seconds per order over every process of the drain (services, facades,
    nats-server, PostgreSQL backends)."""
    total_s = sum(inputs.per_order_ms.values()) / 1000.0
    if total_s <= 0:
        raise InputsError("inputs have no CPU per order")
    idle = sum(inputs.background_cores.values())
    if cores <= idle:
        raise ValueError(f"{cores:.2f} cores leave nothing to the drain beside the idle processes' {idle:.2f}")
    return (cores - idle) / total_s


def check_verdict(predicted: float, measured: float, tolerance: float) -> tuple[float, bool]:
    """(measured / predicted, within ``tolerance`` of 1)."""
    if predicted <= 0:
        raise ValueError("nothing predicted")
    ratio = measured / predicted
    return ratio, abs(ratio - 1.0) <= tolerance


# -- measuring (real processes) --------------------------------------------------------------------

Say = Callable[[str], None]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Snapshot:
    at: float
    cpu_s: dict[str, float]
    machine_busy_s: float
    commits: int = 0
    rows: int = 0
    stream_messages: int = 0
    stream_bytes: int = 0
    deliveries: int = 0
    facade_messages: int = 0


@dataclass
class Delta:
    seconds: float
    cpu_s: dict[str, float]
    other_cpu_s: float
    commits: int
    rows: int
    stream_messages: int
    stream_bytes: int
    deliveries: int
    facade_messages: int
    load_average: tuple[float, float, float]

    def per(self, count: int) -> dict[str, float]:
        return {k: round(1000.0 * v / count, 4) for k, v in sorted(self.cpu_s.items())}


class Meter:
    """Per-process CPU of the bench stack's processes (and the facades and PostgreSQL backends of its
    database), with the database's commits and rows and the streams' messages, bytes and deliveries."""

    def __init__(self, stack: Any, admin_url: str, facades: Mapping[str, int] | None = None) -> None:
        self.stack = stack
        self.admin_url = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.facades = dict(facades or {})
        #: Cores each process uses when idle; ``delta`` subtracts it (empty: nothing subtracted).
        self.background: dict[str, float] = {}
        #: CPU seconds of each PostgreSQL backend of the bench database at the last snapshot (they come and go).
        self._backends: dict[int, float] = {}

    def pids(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for spec in self.stack.plan.processes:
            if spec.role in ("service", "worker", "nats"):
                try:
                    out.setdefault(spec.name, []).append(self.stack.pid(spec.name))
                except KeyError:
                    continue
        for pid in self.facades.values():
            out.setdefault("facade", []).append(pid)
        return out

    async def snap(self, *, stats: bool = True) -> Snapshot:
        import asyncpg
        import nats

        from perf._stats import machine_busy_s, process_cpu_s

        conn = await asyncpg.connect(self.admin_url)
        try:
            backends = [
                int(r["pid"])
                for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.stack.database,
                )
            ]
            cpu = {name: sum(process_cpu_s(p) for p in ps) for name, ps in self.pids().items()}
            self._backends = {pid: process_cpu_s(pid) for pid in backends}
            snapshot = Snapshot(time.monotonic(), cpu, machine_busy_s())
            if stats:
                row = await conn.fetchrow(
                    "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS rows"
                    " FROM pg_stat_database WHERE datname = $1",
                    self.stack.database,
                )
                snapshot.commits, snapshot.rows = int(row["xact_commit"]), int(row["rows"])
        finally:
            await conn.close()
        nc = await nats.connect(self.stack.nats_url, connect_timeout=5)
        try:
            js = nc.jetstream()
            for stream in await js.streams_info():
                state = stream.state
                if stream.config.name == "FACADE":
                    snapshot.facade_messages += int(state.messages)
                else:
                    snapshot.stream_messages += int(state.messages)
                snapshot.stream_bytes += int(state.bytes)
                for info in await js.consumers_info(str(stream.config.name)):
                    if info.delivered is not None and info.delivered.consumer_seq is not None:
                        snapshot.deliveries += int(info.delivered.consumer_seq)
        finally:
            await nc.close()
        return snapshot

    async def delta(self, start: Snapshot, start_backends: Mapping[int, float], *, stats_wait_s: float) -> Delta:
        """From ``start`` to now; PostgreSQL's statistics are read after ``stats_wait_s`` (backends flush
        their counters at most once a second, idle ones later) while the CPU is read at once."""
        from perf._stats import machine_busy_s, process_cpu_s

        now = time.monotonic()
        busy = machine_busy_s()
        cpu = {name: sum(process_cpu_s(p) for p in ps) for name, ps in self.pids().items()}
        backends_now = await self._backend_pids()
        pg = sum(process_cpu_s(pid) - start_backends.get(pid, 0.0) for pid in backends_now)
        await asyncio.sleep(stats_wait_s)
        end = await self.snap(stats=True)
        used = {name: max(0.0, cpu.get(name, 0.0) - start.cpu_s.get(name, 0.0)) for name in cpu}
        used["postgres"] = max(0.0, pg)
        seconds = now - start.at
        busy_s = busy - start.machine_busy_s
        for name, cores in self.background.items():
            if name in used:
                used[name] = max(0.0, used[name] - cores * seconds)
        return Delta(
            seconds=seconds,
            cpu_s=used,
            other_cpu_s=max(0.0, busy_s - sum(used.values()) - sum(self.background.values()) * seconds),
            commits=end.commits - start.commits,
            rows=end.rows - start.rows,
            stream_messages=end.stream_messages - start.stream_messages,
            stream_bytes=end.stream_bytes - start.stream_bytes,
            deliveries=end.deliveries - start.deliveries,
            facade_messages=end.facade_messages - start.facade_messages,
            load_average=os.getloadavg(),
        )

    async def _backend_pids(self) -> list[int]:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", self.stack.database
            )
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    async def begin(self) -> tuple[Snapshot, dict[int, float]]:
        snapshot = await self.snap()
        return snapshot, dict(self._backends)

    async def settle(self, *, timeout_s: float = 600.0) -> None:
        """Until every outbox row is published and no durable consumer of any stream (the analytics
        service's and the facades' included; a paused one excepted) has messages pending or
        unacknowledged, twice in a row:
        the work an order or a request causes is all done, whichever process does it."""
        import asyncpg
        import nats

        conn = await asyncpg.connect(self.admin_url.rsplit("/", 1)[0] + "/" + self.stack.database)
        nc = await nats.connect(self.stack.nats_url, connect_timeout=5)
        try:
            outboxes = [
                r["table_schema"]
                for r in await conn.fetch(
                    "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
                )
            ]
            js = nc.jetstream()
            deadline = time.monotonic() + timeout_s
            calm = 0
            while calm < 2:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"capacity: the pipeline did not settle within {timeout_s:.0f} s")
                busy = 0
                for schema in outboxes:
                    busy += int(
                        await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox WHERE published_at IS NULL')
                    )
                for stream in await js.streams_info():
                    for info in await js.consumers_info(str(stream.config.name)):
                        if info.config.durable_name and not getattr(info, "paused", False):
                            busy += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
                calm = calm + 1 if busy == 0 else 0
                await asyncio.sleep(0.25)
        finally:
            await nc.close()
            await conn.close()


@dataclass(frozen=True)
class MeasurePlan:
    postgres_url: str
    backlog: int = 1_000
    rounds: int = 2
    history: int = 2_000
    window_s: float = 10.0
    concurrency: int = 8
    quiet_wait_s: float = 10.0
    stats_wait_s: float = 11.0


async def _drains(
    stack: Any, meter: Meter, plan: MeasurePlan, say: Say
) -> tuple[list[tuple[int, Delta]], list[tuple[int, Delta]], list[float]]:
    """``plan.rounds`` drains: per round the submission phase (gRPC SubmitOrder with the saga paused)
    and the drain phase (from the resumption until the pipeline is quiescent), each a Delta."""
    from perf._common import wait_quiet
    from perf._drain import drain

    intake: list[tuple[int, Delta]] = []
    saga: list[tuple[int, Delta]] = []
    rates: list[float] = []
    for rnd in range(plan.rounds):
        await meter.settle()
        busy = await wait_quiet(plan.quiet_wait_s)
        say(f"capacity: drain {rnd + 1}/{plan.rounds} of {plan.backlog:,} orders (machine {busy:.0f} % busy before)")
        start, start_backends = await meter.begin()
        resumed: dict[str, Any] = {}

        async def at_resumption(
            resumed: dict[str, Any] = resumed,
            start: Snapshot = start,
            start_backends: dict[int, float] = start_backends,
        ) -> None:
            resumed["snap"], resumed["backends"] = await meter.begin()
            # the CPU of the submission phase, read as the drain starts
            resumed["intake"] = await meter.delta(start, start_backends, stats_wait_s=0.0)

        result = await drain(stack, plan.backlog, say, during=at_resumption)
        if not result.settled:
            raise RuntimeError(f"capacity: drain {rnd + 1} did not settle within its timeout")
        await meter.settle()  # the consumers the drain does not wait for (analytics, facades) finish too
        drained = await meter.delta(resumed["snap"], resumed["backends"], stats_wait_s=plan.stats_wait_s)
        # the drain's own clock (until every order moved on) gives the rate; the CPU runs to quiescence
        intake.append((plan.backlog, resumed["intake"]))
        saga.append((plan.backlog, drained))
        rates.append(result.rate)
    return intake, saga, rates


async def _window(
    meter: Meter, plan: MeasurePlan, label: str, spec: dict[str, Any], say: Say, *, stats: bool = False
) -> tuple[int, Delta, dict[str, Any]]:
    from perf._common import run_load, wait_quiet

    await meter.settle()
    await wait_quiet(plan.quiet_wait_s)
    start, backends = await meter.begin()
    result = await run_load(spec)
    await meter.settle()  # what the requests caused (API-usage events, invalidations) is theirs
    delta = await meter.delta(start, backends, stats_wait_s=plan.stats_wait_s if stats else 0.0)
    bad = {k: v for k, v in result["statuses"].items() if k not in ("200", "OK")}
    if bad or not result["ok"]:
        raise RuntimeError(f"capacity: window {label} answered {result['statuses']}")
    count = int(result["extra"].get("issued", result["ok"]))
    say(f"    {label}: {result['rate']:,.1f} req/s, {count} requests, CPU {delta.per(count)} ms/request")
    return count, delta, result


async def _prepared(stack: Any, plan: MeasurePlan, stock_for: int, say: Say) -> tuple[Meter, Any, Any]:
    """Start the stack with two facades (cached, and ``MES_FACADE_CACHE=0``), receive stock for
    ``stock_for`` drain orders, and measure each process's idle CPU (its background)."""
    from perf._common import wait_quiet
    from perf._drain import receive_for
    from perf._facade_bench import FACADE_ENV

    say(f"capacity: generating {plan.history:,} orders, starting the stack (both cores, no pinning)")
    await stack.start()
    await receive_for(stack, stock_for)
    cached = await stack.start_facade("facade", FACADE_ENV)
    uncached = await stack.start_facade("facade-uncached", {**FACADE_ENV, "MES_FACADE_CACHE": "0"})
    meter = Meter(stack, plan.postgres_url, {"facade": cached.pid, "facade-uncached": uncached.pid})
    await meter.settle()
    await wait_quiet(plan.quiet_wait_s)
    start, backends = await meter.begin()
    await asyncio.sleep(plan.window_s)
    idle = await meter.delta(start, backends, stats_wait_s=0.0)
    meter.background = {k: round(v / idle.seconds, 4) for k, v in sorted(idle.cpu_s.items())}
    say(f"capacity: idle background (cores) {meter.background}")
    return meter, cached, uncached


async def measure(plan: MeasurePlan, workdir: Path, say: Say) -> dict[str, Any]:
    """Run the drains and the request windows; return the inputs file's content."""
    from graphql_facade.config import DEFAULT_OPERATOR_TOKEN
    from perf._common import gql, graphql_body, query
    from perf._drain import DRAIN_LINES
    from perf._isolation_bench import VICTIM
    from perf._setup import DUE, pause_saga, saga_consumers, wait_until_settled
    from perf._stack import BenchStack
    from perf.datagen import Options

    stack = BenchStack(workdir, postgres_admin_url=plan.postgres_url, say=say, dataset=Options(orders=plan.history))
    windows: dict[str, Any] = {}
    try:
        stock = int(plan.backlog * plan.rounds + 200 * plan.window_s + 500)
        meter, cached, uncached = await _prepared(stack, plan, stock, say)
        intake, saga, rates = await _drains(stack, meter, plan, say)
        operator = {"Authorization": f"Bearer {DEFAULT_OPERATOR_TOKEN}"}
        key = stack.partner_keys[VICTIM]
        partner = {"X-API-Key": key}
        listing = await gql(cached.url, query("partner_orders"), {"first": 50}, headers=partner)
        ids = [n["id"] for n in listing.json()["data"]["orders"]["nodes"]]
        if not ids:
            raise RuntimeError(f"capacity: partner {VICTIM} has no orders to poll")
        submit_input = {
            "partnerReference": "CAP-__N__",
            "dueTime": DUE.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "priority": "NORMAL",
            "lines": [
                {"styleCode": style, "alloyCode": alloy, "quantity": 1, "size": "7" if i == 0 else ""}
                for i, (style, alloy, _mg, _stones) in enumerate(DRAIN_LINES)
            ],
        }

        def spec(server: Any, headers: dict[str, str], bodies: Sequence[str], concurrency: int) -> dict[str, Any]:
            return {
                "kind": "http",
                "mode": "closed",
                "port": server.port,
                "concurrency": concurrency,
                "requests": [{"headers": headers, "body": b} for b in bodies],
                "warmup_s": 0.0,
                "duration_s": plan.window_s,
                "server_pids": [],
            }

        status_bodies = [graphql_body(query("order_status"), "OrderStatus", {"id": i}) for i in ids]
        list_body = [graphql_body(query("partner_orders"), "PartnerOrders", {"first": 20})]
        board_body = [graphql_body(query("board"), "Board", {"first": 100})]
        kinds: dict[str, tuple[Any, dict[str, str], list[str], int]] = {
            "status_cached": (cached, partner, status_bodies, plan.concurrency),
            "status_uncached": (uncached, partner, status_bodies, plan.concurrency),
            "list_cached": (cached, partner, list_body, plan.concurrency),
            "list_uncached": (uncached, partner, list_body, plan.concurrency),
            "board_cached": (cached, operator, board_body, plan.concurrency),
            "board_uncached": (uncached, operator, board_body, 4),
        }
        per_request: dict[str, dict[str, float]] = {}
        messages_per_request: dict[str, float] = {}
        for kind, (server, headers, bodies, conns) in kinds.items():
            # warm the caches (and the uncached facade's connections) before the window
            await gql(server.url, json.loads(bodies[0])["query"], json.loads(bodies[0])["variables"], headers=headers)
            count, delta, result = await _window(meter, plan, kind, spec(server, headers, bodies, conns), say)
            per_request[kind] = delta.per(count)
            messages_per_request[kind] = round(delta.facade_messages / count, 4)
            windows[kind] = _window_record(count, delta, result)
        # submissions through the facade, the saga paused: the intake path only (the saga is the drain's)
        names = await saga_consumers(stack)
        await pause_saga(stack, names, True)
        try:
            body = graphql_body(query("submit_order"), "SubmitOrder", {"input": submit_input, "key": "__N__"})
            count, submit, result = await _window(
                meter, plan, "submit", spec(cached, partner, [body], plan.concurrency), say, stats=True
            )
        finally:
            await pause_saga(stack, names, False)
        per_request["submit"] = submit.per(count)
        messages_per_request["submit"] = round((submit.stream_messages + submit.facade_messages) / count, 4)
        windows["submit"] = _window_record(count, submit, result)
        await wait_until_settled(stack, timeout_s=300.0)
    finally:
        await stack.aclose()

    def mean_per_order(deltas: list[tuple[int, Delta]], attr: str) -> float:
        return float(sum(getattr(d, attr) for _, d in deltas)) / sum(n for n, _ in deltas)

    per_order = _median_per_process([d.per(n) for n, d in saga])
    model_inputs = {
        "per_order_ms": per_order,
        "per_request_ms": per_request,
        "messages_per_order": round(mean_per_order(saga, "stream_messages") + submit.stream_messages / count, 3),
        "stream_bytes_per_order": round(mean_per_order(saga, "stream_bytes") + submit.stream_bytes / count, 1),
        "deliveries_per_order": round(mean_per_order(saga, "deliveries") + submit.deliveries / count, 3),
        "commits_per_order": round(mean_per_order(saga, "commits") + submit.commits / count, 3),
        "rows_per_order": round(mean_per_order(saga, "rows") + submit.rows / count, 3),
        "messages_per_request": messages_per_request,
        "background_cores": meter.background,
    }
    return {
        "source": _source(plan),
        "model": model_inputs,
        "drains": [
            {
                "orders": n,
                "rate_orders_s": round(rate, 1),
                "rate_to_quiescence_orders_s": round(n / d.seconds, 1),
                "intake_cpu_ms_per_order": i.per(n),
                "saga": _window_record(n, d, None),
            }
            for (n, d), (_, i), rate in zip(saga, intake, rates, strict=True)
        ],
        "windows": windows,
    }


def _median_per_process(rounds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    from statistics import median

    names = sorted({k for r in rounds for k in r})
    return {k: round(float(median([r.get(k, 0.0) for r in rounds])), 4) for k in names}


def _window_record(count: int, delta: Delta, result: Mapping[str, Any] | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "count": count,
        "seconds": round(delta.seconds, 2),
        "cpu_ms_per_item": delta.per(count),
        "other_cpu_pct": round(100.0 * delta.other_cpu_s / delta.seconds, 1) if delta.seconds else 0.0,
        "commits": delta.commits,
        "rows": delta.rows,
        "stream_messages": delta.stream_messages,
        "stream_bytes": delta.stream_bytes,
        "facade_messages": delta.facade_messages,
        "deliveries": delta.deliveries,
        "load_average": [round(v, 2) for v in delta.load_average],
    }
    if result is not None:
        record["rate"] = result["rate"]
        record["p99_ms"] = result["p99_ms"]
    return record


def _source(plan: MeasurePlan) -> dict[str, Any]:
    from perf.bench import machine

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "command": "python perf/capacity.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "commit": commit,
        "machine": machine(),
        "plan": plan.__dict__ | {"postgres_url": "MES_BENCH_POSTGRES_URL"},
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
    }


async def run_check(inputs: Inputs, plan: MeasurePlan, workdir: Path, say: Say) -> dict[str, Any]:
    """Measure the drain rate on this machine (orders / seconds from the resumption of the consumers
    until the whole pipeline is idle) and the CPU the rest of the machine took meanwhile."""
    from perf._stack import BenchStack
    from perf.datagen import Options

    stack = BenchStack(workdir, postgres_admin_url=plan.postgres_url, say=say, dataset=Options(orders=plan.history))
    try:
        meter, _cached, _uncached = await _prepared(stack, plan, plan.backlog * plan.rounds + 100, say)
        _intake, saga, rates = await _drains(stack, meter, plan, say)
    finally:
        await stack.aclose()
    cores = os.cpu_count() or 1
    rounds = []
    for (n, d), rate in zip(saga, rates, strict=True):
        # cores left to the drain: the machine's, less what other programs took during the drain
        others = d.other_cpu_s / d.seconds
        rounds.append(
            {
                "orders": n,
                # orders / seconds from the resumption until every consumer and relay is idle
                "measured_orders_s": round(n / d.seconds, 1),
                "in_production_orders_s": round(rate, 1),
                "other_cores": round(others, 2),
                "cpu_ms_per_order": round(1000.0 * sum(d.cpu_s.values()) / n, 2),
                "cpu_ms_per_order_by_process": d.per(n),
                "load_average": [round(v, 2) for v in d.load_average],
            }
        )
    return {"cores": cores, "background_cores": meter.background, "rounds": rounds}


def _check_report(inputs: Inputs, result: Mapping[str, Any], tolerance: float) -> tuple[str, bool]:
    from statistics import median

    cores = float(result["cores"])
    rows = [
        "| round | other programs (cores) | predicted, all cores | predicted, cores left"
        " | measured (all orders in production) | measured / predicted (cores left)"
        " | CPU/order measured (inputs) | load average |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    total_in = sum(inputs.per_order_ms.values())
    for i, r in enumerate(result["rounds"], start=1):
        left = max(0.05, cores - float(r["other_cores"]))
        naive = predict_drain_rate(inputs, cores)
        predicted = predict_drain_rate(inputs, left)
        ratio, _ = check_verdict(predicted, float(r["measured_orders_s"]), tolerance)
        ratios.append(ratio)
        rows.append(
            f"| {i} | {r['other_cores']:.2f} | {naive:.1f} orders/s | {predicted:.1f} orders/s |"
            f" {r['measured_orders_s']:.1f} orders/s ({r['in_production_orders_s']:.1f}) | {ratio:.2f} |"
            f" {r['cpu_ms_per_order']:.1f} ms"
            f" ({total_in:.1f} ms) | {', '.join(f'{v:.1f}' for v in r['load_average'])} |"
        )
    ratio = float(median(ratios))
    ok = abs(ratio - 1.0) <= tolerance
    verdict = f"Median measured / predicted: {ratio:.2f}; tolerance ±{tolerance:.0%}: {'PASS' if ok else 'MISS'}."
    return "\n".join([*rows, "", verdict]), ok


# -- command line ----------------------------------------------------------------------------------


def _postgres_url() -> str:
    url = os.environ.get("MES_BENCH_POSTGRES_URL", "").strip()
    if not url:
        raise SystemExit("capacity: set MES_BENCH_POSTGRES_URL (an admin URL of PostgreSQL)")
    return url


def _workload(args: argparse.Namespace) -> Workload:
    return Workload(
        partners=args.partners,
        orders_per_s=args.orders_per_s,
        status_polls_per_order=args.status_polls_per_order,
        list_polls_per_partner_s=args.list_polls_per_partner_s,
        screens=args.screens,
        board_reads_per_screen_s=args.board_reads_per_screen_s,
        read_miss_share=args.read_miss_share,
        board_recomputes_per_s=args.board_recomputes_per_s,
        target_utilisation=args.target_utilisation,
        stream_replicas=args.stream_replicas,
        writer_cores=args.writer_cores,
        nats_node_cores=args.nats_node_cores,
    )


def _in_workdir(run: Callable[[Path], Any], keep: bool) -> Any:
    workdir = Path(tempfile.mkdtemp(prefix="mes-capacity-"))
    _say(f"capacity: working in {workdir}")

    async def guarded() -> Any:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # stop the stack by PID
        return await run(workdir)

    try:
        return asyncio.run(guarded())
    finally:
        if keep:
            _say(f"capacity: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _floats(values: Iterable[str]) -> list[float]:
    return [float(v) for v in values]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    measure_p = sub.add_parser("measure", help="measure the inputs on this machine (PostgreSQL, a few minutes)")
    check_p = sub.add_parser("check", help="predict the drain rate on this machine from the inputs, then measure it")
    for p in (measure_p, check_p):
        p.add_argument("--backlog", type=int, default=1_000, help="orders per drain")
        p.add_argument("--rounds", type=int, default=2, help="drains")
        p.add_argument("--history", type=int, default=2_000, help="orders of the generated history")
        p.add_argument("--keep", action="store_true", help="keep the working folder (logs)")
    measure_p.add_argument("--out", type=Path, default=INPUTS_FILE, help="where to write the inputs")
    measure_p.add_argument("--window", type=float, default=10.0, help="seconds of each request window")
    check_p.add_argument("--inputs", type=Path, default=INPUTS_FILE)
    check_p.add_argument("--tolerance", type=float, default=0.25, help="accepted |measured/predicted - 1|")
    check_p.add_argument("--json", type=Path, help="also write the check's numbers to this file")
    table_p = sub.add_parser("table", help="replicas, bottlenecks and traffic for N partners at M orders/s")
    table_p.add_argument("--inputs", type=Path, default=INPUTS_FILE)
    table_p.add_argument("--partners", type=int, required=True)
    table_p.add_argument("--orders-per-s", type=float, required=True)
    defaults = Workload(partners=1, orders_per_s=0.0)
    for name, kind, text in (
        ("status_polls_per_order", float, "status polls of each order by its partner"),
        ("list_polls_per_partner_s", float, "each partner's polls of its latest orders per second"),
        ("screens", int, "operators' screens showing the board"),
        ("board_reads_per_screen_s", float, "board reads per screen per second"),
        ("read_miss_share", float, "share of partner reads the cache does not answer"),
        ("board_recomputes_per_s", float, "board recomputations per facade replica per second while orders flow"),
        ("target_utilisation", float, "target CPU utilisation of a replica (share of one core)"),
        ("stream_replicas", int, "JetStream stream replicas"),
        ("writer_cores", int, "cores of the PostgreSQL writer"),
        ("nats_node_cores", int, "cores of one JetStream node"),
    ):
        table_p.add_argument(
            "--" + name.replace("_", "-"), type=kind, default=getattr(defaults, name), help=f"{text} (%(default)s)"
        )
    args = parser.parse_args(argv)
    if args.command == "table":
        try:
            inputs = load_inputs(args.inputs)
            print(render_table(model(inputs, _workload(args))))
        except (InputsError, ValueError) as err:
            print(f"capacity: {err}", file=sys.stderr)
            return 2
        return 0
    if args.backlog < 10 or args.rounds < 1:
        parser.error("--backlog must be >= 10 and --rounds >= 1")
    plan = MeasurePlan(postgres_url=_postgres_url(), backlog=args.backlog, rounds=args.rounds, history=args.history)
    if args.command == "measure":
        plan = replace(plan, window_s=args.window)
        content = _in_workdir(lambda w: measure(plan, w, _say), args.keep)
        args.out.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        _say(f"capacity: wrote {args.out}")
        print(json.dumps(content["model"], indent=2))
        return 0
    try:
        inputs = load_inputs(args.inputs)
    except InputsError as err:
        print(f"capacity: {err}", file=sys.stderr)
        return 2
    started = time.monotonic()
    result = _in_workdir(lambda w: run_check(inputs, plan, w, _say), args.keep)
    report, ok = _check_report(inputs, result, args.tolerance)
    source = inputs.source
    print(
        f"## Capacity check ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"- inputs: {args.inputs} (measured {source.get('date', '?')} on {source.get('commit', '?')})\n"
        f"- command: `python perf/capacity.py {' '.join(shlex.quote(a) for a in (argv or sys.argv[1:]))}`\n"
        f"- drains: {plan.rounds} of {plan.backlog:,} 3-line orders on {result['cores']} cores, nothing pinned;"
        f" wall time {time.monotonic() - started:,.0f} s\n\n{report}"
    )
    if args.json:
        args.json.write_text(json.dumps({**result, "tolerance": args.tolerance, "pass": ok}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
