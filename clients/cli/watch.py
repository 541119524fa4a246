"""``mesctl watch``: follow order status changes (or the dashboard counters) live, over the GraphQL
facade's WebSocket (not the services' gRPC APIs)::

    mesctl watch --url http://127.0.0.1:8180/graphql --api-key mes_...
    mesctl watch --token mes-dev-operator --order ID --since 42
    mesctl watch --token mes-dev-operator --counters

One line per event on stdout (see :mod:`clients.cli._watch`). Ctrl-C stops it (exit code 0), and so
does the server completing the subscription; a refused credential or subscription, or a lost
connection, end it with exit code 1 and ``watch: <why>`` on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import TextIO

from clients.cli._app import CliUsageError, Context, Subcommands
from clients.cli._watch import DEFAULT_URL, WatchError, WatchOptions, watch

__all__ = ["DESCRIPTION", "options_from", "register", "run_until_interrupted"]

DESCRIPTION = "follow order status changes (or the dashboard counters) live, over the GraphQL facade"
EXIT_FAILED = 1


def register(commands: Subcommands) -> None:
    # Its own options (the facade's URL and credentials), not the services' connection options.
    parser = commands.add_parser("watch", help=DESCRIPTION, description=DESCRIPTION + ".")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the GraphQL endpoint (default {DEFAULT_URL})")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--api-key", help="a partner's API key: its own orders only")
    who.add_argument("--token", help="an operator token (e.g. mes-dev-operator): every order")
    parser.add_argument("--order", action="append", default=[], metavar="ID", help="follow this order (repeatable)")
    parser.add_argument(
        "--since",
        metavar="SEQ|POSITION",
        help="first replay the events after this seq (operators) or position (partners), as printed",
    )
    parser.add_argument("--counters", action="store_true", help="order counts per status instead (operators)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to connect and authenticate (10)")
    parser.set_defaults(handler=_watch)


def options_from(args: argparse.Namespace) -> WatchOptions:
    """The watch of ``mesctl watch``'s arguments; CliUsageError for combinations that make no sense."""
    if args.counters and args.api_key is not None:
        raise CliUsageError("--counters needs an operator --token")
    if args.counters and (args.order or args.since is not None):
        raise CliUsageError("--order and --since apply to status changes, not to --counters")
    if args.since is not None and args.token is not None and not args.since.isdigit():
        raise CliUsageError("--since must be a seq (a non-negative integer) for operators")
    return WatchOptions(
        url=args.url,
        api_key=args.api_key,
        token=args.token,
        order_ids=tuple(args.order),
        since=args.since,
        counters=args.counters,
        timeout_s=args.timeout,
    )


async def run_until_interrupted(work: Awaitable[None]) -> bool:
    """Await ``work``; Ctrl-C (SIGINT) cancels it instead of interrupting the program. True when it did."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError, ValueError):  # no signals here (not the main thread, Windows)
        handled = False
    else:
        handled = True
    try:
        await task
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
    return interrupted


def _emitter(stream: TextIO) -> Callable[[str], None]:
    def emit(line: str) -> None:
        print(line, file=stream, flush=True)  # one event, one line, at once (a pipe reads it live)

    return emit


async def _watch(args: argparse.Namespace, ctx: Context) -> int:
    options = options_from(args)
    try:
        await run_until_interrupted(watch(options, _emitter(ctx.output.stdout)))
    except KeyboardInterrupt:  # Ctrl-C where no signal handler could be installed
        return 0
    except WatchError as err:
        print(f"watch: {err}", file=ctx.output.stderr, flush=True)
        return EXIT_FAILED
    return 0
