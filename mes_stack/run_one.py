"""``mes run TARGET``: one process of the stack, with exactly the environment ``mes up`` gives it.

Targets: ``<service>`` (one process running every role of the service), ``<service>:api``,
``<service>:worker``, ``facade``, ``nats`` (the one nats-server) or ``nats:<i>`` (node i of a
cluster); ``--replica N`` picks a replica. The spec comes from the plan builder ``mes up`` uses
(``mes_stack.plan``), so command line, environment, niceness and ports are the same; the
configuration is printed first, secrets masked, then the process runs in the foreground with
its output on this terminal (Ctrl-C or SIGTERM stop it; ``--dry-run`` only prints).

Against a running stack (``<data-dir>/stack.json`` whose ``mes up`` is alive) the settings are
that stack's: the arguments and environment it was started with (``stack-launch.json``), not
this shell's (``--set KEY=VALUE`` changes one variable of the process). The process the stack
runs under that name is *handed over*: ``mes run`` records itself (``handover/<name>``), stops
it (SIGTERM, SIGKILL after the grace period) and takes its place, so restarting one process
does not stop the stack; ``mes up`` stops the replacement with the rest. Without a running
stack the settings are this environment's and the command line's, as ``mes up`` would read
them, and a taken port fails with the variable to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mes_stack.database import redact_url
from mes_stack.health import Prober
from mes_stack.options import SERVICES, StackOptions
from mes_stack.plan import HttpProbe, PgProbe, ProcessSpec, StackPlan, nats_node_name
from mes_stack.state import (
    RUN_LOG,
    ProcessInfo,
    StackState,
    looks_like_mes,
    read_handover,
    replace_process,
    write_handover,
)
from mes_stack.supervisor import child_preexec, pid_alive
from mes_stack.tcp import check_ports

__all__ = [
    "RUN_LOG",
    "RunError",
    "Target",
    "describe",
    "mask",
    "parse_settings",
    "parse_target",
    "run_process",
    "select_spec",
    "spec_name",
    "stack_options_for",
    "take_over",
]

Say = Callable[[str], None]
Kind = Literal["service", "api", "worker", "facade", "nats"]
#: Variables printed besides ``MES_*``: the ones the processes read.
_SHOWN = ("NATS_URL", "DATABASE_URL", "DATABASE_READ_URL", "REDIS_URL", "LOG_LEVEL", "LOG_FORMAT", "PYTHONPATH")
_SECRET = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|_KEY$|_KEYS$|CREDENTIALS)")


class RunError(RuntimeError):
    """The target cannot run; the message says why and what to change."""


@dataclass(frozen=True)
class Target:
    kind: Kind
    service: str | None = None
    #: Cluster node (1-based) of ``nats:<i>``.
    node: int | None = None

    def __str__(self) -> str:
        if self.kind == "nats":
            return "nats" if self.node is None else f"nats:{self.node}"
        if self.kind == "facade":
            return "facade"
        return f"{self.service}:{self.kind}" if self.kind != "service" else str(self.service)


def parse_target(text: str, services: Sequence[str] = SERVICES) -> Target:
    """``orders``, ``orders:api``, ``orders:worker``, ``facade``, ``nats``, ``nats:2``."""
    name, _, role = text.strip().partition(":")
    if name == "facade" and not role:
        return Target("facade")
    if name == "nats":
        if not role:
            return Target("nats")
        if role.isdigit() and int(role) >= 1:
            return Target("nats", node=int(role))
        raise RunError(f"nats:{role}: a cluster node is nats:1, nats:2...")
    if name in services:
        if not role:
            return Target("service", name)
        if role in ("api", "worker"):
            return Target(role, name)  # type: ignore[arg-type]
        raise RunError(f"{text}: the roles of a service are api and worker ({name}:api, {name}:worker)")
    choices = ", ".join(services)
    raise RunError(f"unknown target {text!r}: use SERVICE[:api|:worker] ({choices}), facade, nats or nats:N")


def parse_settings(items: Iterable[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` items."""
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunError(f"--set {item!r}: write KEY=VALUE")
        found[key.strip()] = value
    return found


def spec_name(target: Target, options: StackOptions, replica: int) -> str:
    """The plan's name of the target's process."""
    if target.kind == "facade":
        return "facade"
    if target.kind == "nats":
        if target.node is None:
            if options.nats_cluster > 1:
                raise RunError(f"the stack runs a cluster of {options.nats_cluster} nodes: name one (nats:1...)")
            return "nats"
        if options.nats_cluster == 1 or target.node > options.nats_cluster:
            size = "one nats-server (target nats)" if options.nats_cluster == 1 else f"{options.nats_cluster} nodes"
            raise RunError(f"{target}: the stack runs {size}")
        return nats_node_name(target.node - 1)
    if not 1 <= replica <= options.replicas:
        raise RunError(f"--replica {replica}: the stack runs {options.replicas} replica(s) of each service")
    stem = f"{target.service}-worker" if target.kind == "worker" else str(target.service)
    return stem if options.replicas == 1 else f"{stem}-{replica}"


def stack_options_for(target: Target, options: StackOptions, *, stack_running: bool) -> StackOptions:
    """The options whose plan holds the target: one process per service for ``<service>``."""
    if target.kind == "service" and options.split:
        if stack_running:
            raise RunError(
                f"the stack runs {target.service} as {target.service}:api and {target.service}:worker: name one"
            )
        return dataclasses.replace(options, split=False)
    if target.kind in ("api", "worker") and not options.split:
        raise RunError(f"the stack runs {target.service} as one process (MES_STACK_SPLIT=0): target {target.service}")
    return options


def select_spec(plan: StackPlan, name: str, target: Target) -> ProcessSpec:
    for spec in plan.processes:
        if spec.name == name:
            return spec
    if target.kind == "facade":
        raise RunError("the stack runs no facade (--no-facade, MES_STACK_FACADE=0, or no graphql_facade module)")
    if target.kind == "nats":
        raise RunError(f"the stack starts no nats-server: it uses NATS at {plan.nats_url}")
    raise RunError(f"no process {name!r} in the stack")


def mask(key: str, value: str) -> str:
    """``***`` for secrets, URLs without their password."""
    if value and _SECRET.search(key.upper()):
        return "***"
    if "://" in value:
        return ",".join(redact_url(part) for part in value.split(","))
    return value


def _readiness(spec: ProcessSpec) -> str:
    if isinstance(spec.probe, HttpProbe):
        return f"{spec.probe_target} answers 200"
    if isinstance(spec.probe, PgProbe):
        return f"PostgreSQL at {redact_url(spec.probe_target)} answers a query"
    names = " and ".join(repr(name) for name in spec.probe.service_names)
    return f"gRPC health at {spec.probe_target} reports {names} SERVING"


def describe(spec: ProcessSpec, *, origin: str, settings: Mapping[str, str] | None = None) -> list[str]:
    """The configuration of ``spec``, as printed before it runs (secrets masked)."""
    lines = [
        f"mes run: {spec.name} ({origin})",
        f"  command      {' '.join(spec.argv)}",
        f"  address      {spec.address}",
        f"  ready when   {_readiness(spec)}",
    ]
    if spec.nice:
        lines.append(f"  niceness     +{spec.nice}")
    if spec.metrics_url:
        lines.append(f"  metrics      {spec.metrics_url}")
    lines.append("  environment  (MES_* and the variables the processes read; the rest is inherited)")
    for key in sorted(spec.env):
        if key.startswith("MES_") or key in _SHOWN:
            mark = "   (--set)" if settings and key in settings else ""
            lines.append(f"    {key}={mask(key, spec.env[key])}{mark}")
    return lines


async def _stop_pid(pid: int, *, grace_s: float, say: Say) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            say(f"mes run: pid {pid} still running after {grace_s:.0f} s, sending SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            grace_s, deadline = 10.0, time.monotonic() + 10.0
        await asyncio.sleep(0.05)


async def take_over(
    spec: ProcessSpec, state: StackState, data_dir: Path, *, grace_s: float, say: Say
) -> ProcessInfo | None:
    """Stop the stack's process named like ``spec`` after recording this ``mes run`` as its
    replacement; returns what stack.json said of it (None: the stack has no such process)."""
    current = next((p for p in state.processes if p.name == spec.name), None)
    if current is None:
        return None
    previous_run = read_handover(data_dir, spec.name)
    write_handover(data_dir, spec.name, os.getpid())
    if not pid_alive(current.pid):
        return current
    if previous_run == current.pid and not looks_like_mes(current.pid, "run"):
        return current  # a recycled pid, not the previous `mes run`
    who = "`mes run`" if previous_run == current.pid else "mes up"
    say(f"mes run: stopping {spec.name} (pid {current.pid}, started by {who}); this process takes its place")
    await _stop_pid(current.pid, grace_s=grace_s, say=say)
    return current


async def _announce_ready(spec: ProcessSpec, process: asyncio.subprocess.Process, timeout_s: float, say: Say) -> None:
    """Say when the process answers its readiness probe (the one mes up waits for)."""
    prober = Prober(spec)
    deadline = time.monotonic() + timeout_s
    try:
        while process.returncode is None:
            if await prober.check():
                say(f"mes run: {spec.name} is ready at {spec.address}")
                return
            if time.monotonic() >= deadline:
                say(f"mes run: {spec.name} is not ready after {timeout_s:.0f} s ({spec.probe_target})")
                return
            await asyncio.sleep(0.2)
    finally:
        await prober.close()


async def run_process(
    spec: ProcessSpec,
    *,
    data_dir: Path,
    state: StackState | None,
    start_timeout_s: float,
    stop_timeout_s: float,
    say: Say,
) -> int:
    """Run ``spec`` in the foreground (taking it over from the running stack ``state``, if any);
    returns its exit code (128 + signal when a signal ended it)."""
    if state is not None:
        await take_over(spec, state, data_dir, grace_s=stop_timeout_s, say=say)
    check_ports(spec.claims)
    process = await asyncio.create_subprocess_exec(
        *spec.argv,
        env=dict(spec.env),
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches mes run, which forwards it as SIGTERM
        preexec_fn=child_preexec(spec),
    )
    if state is not None:
        replace_process(data_dir, ProcessInfo(spec.name, os.getpid(), spec.address, RUN_LOG))
    loop = asyncio.get_running_loop()
    signals = 0

    def forward() -> None:
        nonlocal signals
        signals += 1
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM if signals == 1 else signal.SIGKILL)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, forward)
    ready = asyncio.ensure_future(_announce_ready(spec, process, start_timeout_s, say))
    try:
        code = await process.wait()
    finally:
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    say(f"mes run: {spec.name} exited with code {code}")
    return code if code >= 0 else 128 - code
