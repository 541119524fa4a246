"""``mes``: the local stack command.

mes up [--data-dir DIR] [--replicas N] [--no-demo] [--nats-url URL] [--database-url URL] [--log-dir DIR]
mes demo-data [--data-dir DIR]
mes db provision --admin-url URL [--password PASSWORD]
mes db migrate [--data-dir DIR] [--service NAME ...]
mes knobs
mes events dead-letters list|show|replay --service S ... | mes events republish --service S --since T --until T
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from mes_platform.admin.cli import add_events_parser, run_events
from mes_platform.config import DEFAULT_DEV_TOKEN
from mes_platform.runtime import ServiceSpec
from mes_stack.database import MigrationError, migrate_services, provision_database, redact_url
from mes_stack.demo import DemoTargets, load_demo_data
from mes_stack.options import KNOBS, SERVICE_PORTS, SERVICES, OptionsError, StackOptions, port_env_var
from mes_stack.plan import database_urls
from mes_stack.state import read_state
from mes_stack.up import run_up

__all__ = ["main"]


def _say(message: str) -> None:
    print(message, flush=True)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mes", description="Run Jewelry MES locally.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start nats-server, the services (and the facade), load demo data; Ctrl-C stops")
    up.add_argument("--data-dir", help="data folder (default: $MES_DATA_DIR or ./var)")
    up.add_argument("--replicas", type=int, help="processes per service (> 1 needs --database-url)")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    up.add_argument("--no-facade", action="store_true", help="do not start the GraphQL facade")
    up.add_argument("--nats-url", help="use this NATS instead of starting nats-server (default: $NATS_URL)")
    up.add_argument("--database-url", help="PostgreSQL admin URL (default: $DATABASE_URL; SQLite files without)")
    up.add_argument("--log-dir", help="log folder (default: <data-dir>/logs)")

    demo = sub.add_parser("demo-data", help="load the demo data into a running stack (idempotent)")
    demo.add_argument("--data-dir", help="data folder of the running stack (default: $MES_DATA_DIR or ./var)")

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    prov = db_sub.add_parser("provision", help="create one schema and one login role per service on PostgreSQL")
    prov.add_argument("--admin-url", required=True, help="postgresql://ADMIN@HOST:PORT/DATABASE")
    prov.add_argument("--password", help="password for the service roles (default: none, for trust/peer auth)")
    mig = db_sub.add_parser("migrate", help="run each service's migrations (settings from the environment)")
    mig.add_argument("--data-dir", help="data folder holding the SQLite files (default: $MES_DATA_DIR or ./var)")
    mig.add_argument("--service", action="append", choices=SERVICES, help="only this service (repeatable)")

    sub.add_parser("knobs", help="list the environment variables mes up reads")
    add_events_parser(sub, SERVICES)
    return parser


def _service_specs() -> dict[str, ServiceSpec[Any, Any]]:
    """Each service's spec (name, infrastructure tables, settings), for ``mes events``."""
    from services.inventory.bootstrap import SPEC as INVENTORY
    from services.orders.bootstrap import SPEC as ORDERS
    from services.production.bootstrap import SPEC as PRODUCTION
    from services.webhooks.bootstrap import SPEC as WEBHOOKS

    return {spec.name: spec for spec in (ORDERS, INVENTORY, PRODUCTION, WEBHOOKS)}


def _data_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("MES_DATA_DIR") or "var").expanduser().resolve()


def _demo_targets(data_dir: Path) -> DemoTargets:
    """Addresses from the running stack's stack.json, else from the environment/defaults."""
    state = read_state(data_dir)
    addrs: dict[str, str] = {}
    for svc in SERVICES:
        if state is not None and state.addresses.get(svc):
            addrs[svc] = state.addresses[svc][0]
        else:
            port = os.environ.get(port_env_var(svc)) or str(SERVICE_PORTS[svc])
            addrs[svc] = f"127.0.0.1:{port}"
    return DemoTargets(addrs["orders"], addrs["inventory"], addrs["production"])


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
    return 0


def _db(args: argparse.Namespace) -> int:
    if args.db_command == "provision":
        try:
            asyncio.run(provision_database(args.admin_url, args.password))
        except Exception as exc:
            _err(f"mes: provisioning {redact_url(args.admin_url)} failed: {exc}")
            return 1
        _say(f"provisioned schemas and roles for {', '.join(SERVICES)} at {redact_url(args.admin_url)}")
        return 0
    env = dict(os.environ)
    options = StackOptions.resolve(env, data_dir=args.data_dir)
    urls = database_urls(options, env)
    envs = {svc: {**env, f"MES_{svc.upper()}_DATABASE_URL": urls[svc]} for svc in SERVICES}
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
            options = StackOptions.resolve(
                os.environ,
                data_dir=args.data_dir,
                log_dir=args.log_dir,
                replicas=args.replicas,
                no_demo=args.no_demo,
                no_facade=args.no_facade,
                nats_url=args.nats_url,
                database_url=args.database_url,
            )
            return asyncio.run(run_up(options, dict(os.environ), say=_say, err=_err))
        if args.command == "demo-data":
            return _demo(args)
        if args.command == "db":
            return _db(args)
        return _knobs()
    except OptionsError as exc:
        _err(f"mes: {exc}")
        return 2


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except KeyboardInterrupt:  # before `mes up` took over the signals, or in another command
        _err("mes: interrupted")
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
