"""The ``events`` command group: dead letters (list, show, replay) and re-publishing.

``mes events dead-letters list|show|replay`` and ``mes events republish`` (see
:mod:`mes_stack.__main__`, which adds this group to its parser and passes the services'
specs). Exit codes: 0 ok, 1 failed (unknown id, NATS error), 2 usage, 3 unavailable.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

import nats.errors

from mes_kernel.errors import NotFound, Unavailable
from mes_platform.admin.events import list_letters, replay_letters, republish, show_letter
from mes_platform.admin.render import (
    letter_details,
    letter_dict,
    letters_table,
    replay_dict,
    replays_table,
    stamp,
)
from mes_platform.admin.target import AdminUsageError, Target, resolve_target
from mes_platform.messaging.deadletters import ReplayResult
from mes_platform.runtime import ServiceSpec

__all__ = [
    "DESCRIPTION",
    "EXIT_FAILED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "add_events_parser",
    "parse_time",
    "run_events",
]

EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 1, 2, 3

if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time on Python 3.11
    Subcommands = argparse._SubParsersAction

DESCRIPTION = """\
Dead letters and re-publishing, for one service. These commands do not go through the
service's gRPC API: they open the service's database and NATS directly, like the service
process does, so run them where the service's environment is available.

  database  --database-url, else MES_<SERVICE>_DATABASE_URL, DATABASE_URL, MES_DATABASE_URL,
            else sqlite:///var/<service>.db (MES_DATA_DIR); schema: --database-schema, else
            MES_<SERVICE>_DATABASE_SCHEMA, else the service name (PostgreSQL)
  NATS      --nats-url, else MES_<SERVICE>_NATS_URL, NATS_URL, MES_NATS_URL (replay, republish)

A replayed dead letter is published again on its original subject with a new message id;
consumers still deduplicate by event id, so it is applied at most once per consumer.
Re-publishing a created_at range [--since, --until) sends every outbox event of the range
again, published or not (after a broker lost data); consumers apply none of them twice.
"""


@dataclass
class _Output:
    """Results as a table (or details) on ``stdout``, or as JSON; notes on ``stderr``."""

    format: str
    stdout: TextIO
    stderr: TextIO

    def emit(self, data: Any, render: Callable[[], str]) -> None:
        text = json.dumps(data, indent=2, sort_keys=False) if self.format == "json" else render()
        print(text, file=self.stdout)

    def note(self, text: str) -> None:
        print(text, file=self.stderr)


Handler = Callable[[argparse.Namespace, Target, _Output], Awaitable[int | None]]


def parse_time(text: str) -> datetime:
    """``2026-05-01`` or ``2026-05-01T10:00:00[Z|+02:00]``; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_events_parser(commands: Subcommands, services: Sequence[str]) -> None:
    """``events dead-letters list|show|replay`` and ``events republish`` under ``commands``."""
    help = "dead letters and re-publishing of events (database + NATS, not gRPC)"
    group = commands.add_parser("events", help=help, description=help)
    group_commands = group.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    help = "messages a consumer gave up on"
    letters = group_commands.add_parser("dead-letters", help=help, description=help)
    letter_commands = letters.add_subparsers(dest="dead_letters_command", metavar="COMMAND", required=True)

    def command(where: Subcommands, name: str, handler: Handler, help: str, *, nats: bool = False) -> Any:
        p = where.add_parser(
            name, help=help, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        p.set_defaults(events_handler=handler)
        p.add_argument("--service", "-s", required=True, choices=list(services))
        p.add_argument("--database-url", help="the service's database (see above)")
        p.add_argument("--database-schema", help="PostgreSQL schema (default: the service's)")
        if nats:
            p.add_argument("--nats-url", help="NATS server(s) (see above)")
        p.add_argument("--output", "-o", choices=("table", "json"), default="table", help="output format")
        return p

    p = command(letter_commands, "list", _list, "list dead letters, oldest first")
    p.add_argument("--consumer", help="only this durable consumer (e.g. inventory-production-events)")
    p.add_argument("--all", action="store_true", help="include dead letters already replayed")
    p.add_argument("--after-id", type=int, default=0, help="start after this id (paging)")
    p.add_argument("--limit", type=int, default=100, help="at most N (1..1000; default 100)")

    p = command(letter_commands, "show", _show, "show one dead letter with its error")
    p.add_argument("id", type=int)

    p = command(letter_commands, "replay", _replay, "publish dead letters again on their original subject", nats=True)
    p.add_argument("id", type=int, nargs="+")

    p = command(group_commands, "republish", _republish, "publish the outbox events of a time range again", nats=True)
    p.add_argument("--since", required=True, type=parse_time, help="ISO date or date-time (UTC if no zone)")
    p.add_argument("--until", required=True, type=parse_time, help="ISO date or date-time, exclusive")


def _check(args: argparse.Namespace) -> None:
    """Argument rules argparse cannot state; checked before anything is opened."""
    limit = getattr(args, "limit", None)
    if limit is not None and not 1 <= limit <= 1000:
        raise AdminUsageError("--limit must be 1..1000")
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and until <= since:
        raise AdminUsageError("--until must be after --since")


async def run_events(
    args: argparse.Namespace,
    specs: Mapping[str, ServiceSpec[Any, Any]],
    env: Mapping[str, str],
    *,
    stdout: TextIO,
    stderr: TextIO,
    prog: str = "mes",
) -> int:
    """Run the parsed ``events`` command for ``specs[args.service]``; returns the exit code."""
    out = _Output(args.output, stdout, stderr)
    handler: Handler = args.events_handler
    try:
        _check(args)
        target = resolve_target(
            specs[args.service],
            env,
            database_url=args.database_url,
            database_schema=args.database_schema,
            nats_url=getattr(args, "nats_url", None),
        )
        status = await handler(args, target, out)
    except AdminUsageError as exc:
        out.note(f"{prog}: error: {exc}")
        return EXIT_USAGE
    return 0 if status is None else status


async def _guarded(out: _Output, work: Coroutine[Any, Any, None]) -> int | None:
    """Run ``work``; database/NATS outages and unknown ids become exit codes."""
    try:
        await work
    except (Unavailable, OSError) as exc:
        out.note(f"error: UNAVAILABLE: {exc}")
        return EXIT_UNAVAILABLE
    except nats.errors.Error as exc:
        out.note(f"error: NATS: {exc!r}")
        return EXIT_FAILED
    except NotFound as exc:
        out.note(f"error: NOT_FOUND: {exc}")
        return EXIT_FAILED
    return None


async def _list(args: argparse.Namespace, target: Target, out: _Output) -> int | None:
    async def work() -> None:
        letters = await list_letters(
            target, consumer=args.consumer, include_replayed=args.all, after_id=args.after_id, limit=args.limit
        )
        out.emit([letter_dict(d) for d in letters], lambda: letters_table(letters))

    return await _guarded(out, work())


async def _show(args: argparse.Namespace, target: Target, out: _Output) -> int | None:
    async def work() -> None:
        letter = await show_letter(target, args.id)
        out.emit(letter_dict(letter), lambda: letter_details(letter))

    return await _guarded(out, work())


async def _replay(args: argparse.Namespace, target: Target, out: _Output) -> int | None:
    results: list[ReplayResult] = []

    async def work() -> None:
        async for result in replay_letters(target, args.id):
            results.append(result)

    status = await _guarded(out, work())
    out.emit([replay_dict(r) for r in results], lambda: replays_table(results))
    return status


async def _republish(args: argparse.Namespace, target: Target, out: _Output) -> int | None:
    published: list[int] = []

    async def work() -> None:
        published.append(await republish(target, args.since, args.until))

    status = await _guarded(out, work())
    count = published[0] if published else 0
    result = {
        "service": target.service,
        "since": args.since.isoformat(),
        "until": args.until.isoformat(),
        "published": count,
    }
    span = f"[{stamp(args.since)}, {stamp(args.until)})"
    out.emit(result, lambda: f"re-published {count} {target.service} event(s) created in {span}")
    return status
