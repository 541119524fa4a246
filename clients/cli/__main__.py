"""``mesctl`` entry point: global options, the command groups, error reporting and exit codes.

Exit codes: 0 success, 1 a call failed, 2 usage error, 3 a service is unavailable, 130 interrupted.
A command group is a module ``clients.cli.<name>`` with ``register(commands)``; adding one is adding its
name to ``GROUPS``. ``watch`` follows the GraphQL facade's subscriptions; ``moved`` says where commands
that left ``mesctl`` went (``mesctl events`` -> ``mes events``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import TextIO, cast

from clients import ClientConfig, MesClientError, MesClients, UnavailableError
from clients.cli._app import CliUsageError, Context, GroupModule, Handler, Output, add_global_options

__all__ = ["GROUPS", "build_parser", "group_modules", "main", "run"]

#: The command groups, in help order: modules of this package, each with ``register(commands)``.
GROUPS: tuple[str, ...] = (
    "orders",
    "partners",
    "inventory",
    "production",
    "webhooks",
    "analytics",
    "watch",
    "traces",
    "moved",
)

EXIT_OK, EXIT_RPC, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mesctl",
        description="Command line for the Jewelry MES services (orders, inventory, production, webhooks, analytics).",
        epilog="Environment: MES_ORDERS_ADDR, MES_INVENTORY_ADDR, MES_PRODUCTION_ADDR, MES_WEBHOOKS_ADDR, "
        "MES_ANALYTICS_ADDR, MES_TOKEN, MES_API_KEY, MES_PARTNER, MES_TLS, MES_TLS_CA_FILE, MES_DEADLINE_S. "
        "Exit codes: 0 ok, 1 call failed, 2 usage, 3 unavailable.",
    )
    add_global_options(parser)
    commands = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for group in group_modules():
        group.register(commands)
    return parser


def group_modules() -> list[GroupModule]:
    modules = [importlib.import_module(f"{__package__}.{name}") for name in GROUPS]
    for module in modules:
        if not callable(getattr(module, "register", None)):
            raise TypeError(f"command group module {module.__name__} has no register(commands)")
    return cast(list[GroupModule], modules)


def config_from_args(args: argparse.Namespace, env_config: ClientConfig) -> ClientConfig:
    return env_config.with_changes(
        orders_addr=args.orders_addr,
        inventory_addr=args.inventory_addr,
        production_addr=args.production_addr,
        webhooks_addr=args.webhooks_addr,
        analytics_addr=args.analytics_addr,
        token=args.token,
        api_key=args.api_key,
        partner=args.acting_partner,
        tls=args.tls or None,
        tls_ca_file=args.tls_ca_file,
        deadline_s=args.deadline,
    )


def report_error(error: MesClientError, stream: TextIO) -> None:
    print(f"error: {error.code.name} {error.reason}: {error.message}", file=stream)
    for violation in error.violations:
        print(f"  {violation.field}: {violation.description}", file=stream)


async def run(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Parse ``argv`` and run the command in the running event loop; returns the exit code."""
    out = Output(stdout=stdout or sys.stdout, stderr=stderr or sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out.format = args.output
    try:
        config = config_from_args(args, ClientConfig.from_env())
    except ValueError as exc:
        out.note(f"error: {exc}")
        return EXIT_USAGE
    handler: Handler = args.handler
    try:
        async with MesClients(config) as clients:
            status = await handler(args, Context(clients=clients, output=out, config=config))
    except CliUsageError as exc:
        out.note(f"mesctl: error: {exc}")
        return EXIT_USAGE
    except UnavailableError as exc:
        report_error(exc, out.stderr)
        return EXIT_UNAVAILABLE
    except MesClientError as exc:
        report_error(exc, out.stderr)
        return EXIT_RPC
    except OSError as exc:  # an input file that cannot be read
        out.note(f"error: {exc}")
        return EXIT_USAGE
    return EXIT_OK if status is None else status


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``mesctl``)."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
