"""``mesctl events``: dead letters (list, show, replay) and re-publishing a time range of events.

These are operator tools of the messaging layer, not calls to a service's gRPC API (the
contracts have no admin RPCs for them): they open the service's DATABASE (its outbox and
dead-letter tables) and NATS directly, with the settings the service itself reads.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from clients.cli._render import details, table

if TYPE_CHECKING:
    from mes_platform.db import Database
    from mes_platform.messaging.connection import NatsConnection
    from mes_platform.messaging.deadletters import DeadLetter
    from mes_platform.tables import InfraTables

__all__ = ["DESCRIPTION", "Target", "parse_time", "register", "resolve_target"]

SERVICES = ("orders", "inventory", "production")
EXIT_FAILED, EXIT_UNAVAILABLE = 1, 3

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


def register(commands: Subcommands) -> None:
    group = add_group(commands, "events", "dead letters and re-publishing of events (database + NATS, not gRPC)")

    letters = add_group(group, "dead-letters", "messages a consumer gave up on")

    p = add_command(letters, "list", _list, "list dead letters, oldest first")
    _describe(p)
    p.add_argument("--consumer", help="only this durable consumer (e.g. inventory-production-events)")
    p.add_argument("--all", action="store_true", help="include dead letters already replayed")
    p.add_argument("--after-id", type=int, default=0, help="start after this id (paging)")
    p.add_argument("--limit", type=int, default=100, help="at most N (1..1000; default 100)")

    p = add_command(letters, "show", _show, "show one dead letter with its error")
    _describe(p)
    p.add_argument("id", type=int)

    p = add_command(letters, "replay", _replay, "publish dead letters again on their original subject")
    _describe(p, nats=True)
    p.add_argument("id", type=int, nargs="+")

    p = add_command(group, "republish", _republish, "publish the outbox events of a time range again")
    _describe(p, nats=True)
    p.add_argument("--since", required=True, type=parse_time, help="ISO date or date-time (UTC if no zone)")
    p.add_argument("--until", required=True, type=parse_time, help="ISO date or date-time, exclusive")


def _describe(p: argparse.ArgumentParser, *, nats: bool = False) -> None:
    p.description = DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--service", "-s", required=True, choices=SERVICES)
    p.add_argument("--database-url", help="the service's database (see above)")
    p.add_argument("--database-schema", help="PostgreSQL schema (default: the service's)")
    if nats:
        p.add_argument("--nats-url", help="NATS server(s) (see above)")


def parse_time(text: str) -> datetime:
    """``2026-05-01`` or ``2026-05-01T10:00:00[Z|+02:00]``; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Target:
    service: str
    database_url: str
    schema: str
    nats_url: str | None


def resolve_target(args: argparse.Namespace, env: dict[str, str] | None = None) -> Target:
    """Where the service's data and NATS are: flags first, then the service's own settings."""
    from mes_platform.config import ServiceSettings, normalize_db_url

    settings = ServiceSettings.from_env(args.service, env=dict(os.environ) if env is None else env)
    url = normalize_db_url(args.database_url) if args.database_url else settings.database_url
    target = Target(
        service=args.service,
        database_url=url,
        schema=args.database_schema or settings.database_schema,
        nats_url=getattr(args, "nats_url", None) or settings.nats_url,
    )
    if url.startswith("sqlite") and "///" in url:
        path = Path(url.split("///", 1)[1])
        if str(path) != ":memory:" and not path.is_file():
            variable = f"MES_{args.service.upper()}_DATABASE_URL"
            raise CliUsageError(f"no {args.service} database at {path}: pass --database-url or set {variable}")
    return target


@asynccontextmanager
async def _database(target: Target) -> AsyncIterator[tuple[Database, InfraTables]]:
    from sqlalchemy import MetaData

    from mes_platform.db import Database
    from mes_platform.tables import add_infrastructure_tables

    db = Database(target.database_url, schema=target.schema, pool_size=1)
    try:
        yield db, add_infrastructure_tables(MetaData())
    finally:
        await db.dispose()


@asynccontextmanager
async def _nats(target: Target) -> AsyncIterator[NatsConnection]:
    from mes_platform.messaging.connection import connect_nats

    if not target.nats_url:
        raise CliUsageError(f"no NATS: pass --nats-url or set NATS_URL (or MES_{target.service.upper()}_NATS_URL)")
    try:
        conn = await connect_nats(target.nats_url, name=f"mesctl-{target.service}", initial_timeout_s=5.0)
    except TimeoutError:
        raise _Unavailable(f"NATS at {target.nats_url} did not answer within 5 s") from None
    try:
        yield conn
    finally:
        await conn.close()


class _Unavailable(Exception):
    pass


async def _guarded(ctx: Context, work: Coroutine[Any, Any, None]) -> int | None:
    """Run ``work``; database/NATS outages and unknown ids become exit codes."""
    import nats.errors

    from mes_kernel.errors import NotFound, Unavailable

    try:
        await work
    except (Unavailable, _Unavailable, OSError) as exc:
        ctx.output.note(f"error: UNAVAILABLE: {exc}")
        return EXIT_UNAVAILABLE
    except nats.errors.Error as exc:
        ctx.output.note(f"error: NATS: {exc!r}")
        return EXIT_FAILED
    except NotFound as exc:
        ctx.output.note(f"error: NOT_FOUND: {exc}")
        return EXIT_FAILED
    return None


def _letter_dict(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "event_id": letter.event_id,
        "subject": letter.subject,
        "deliveries": letter.deliveries,
        "created_at": letter.created_at.isoformat(),
        "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
        "error": letter.error,
        "headers": letter.headers,
        "payload_bytes": len(letter.payload),
    }


def _first_line(text: str, width: int = 70) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def _stamp(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def letters_table(letters: Sequence[DeadLetter]) -> str:
    rows = [
        (
            d.id,
            d.consumer,
            d.subject,
            d.event_id,
            d.deliveries,
            _stamp(d.created_at),
            _stamp(d.replayed_at),
            _first_line(d.error),
        )
        for d in letters
    ]
    return table(
        ["ID", "CONSUMER", "SUBJECT", "EVENT ID", "DELIVERIES", "CREATED", "REPLAYED", "ERROR"],
        rows,
        empty="(no dead letters)",
    )


async def _list(args: argparse.Namespace, ctx: Context) -> int | None:
    from mes_platform.messaging.deadletters import list_dead_letters

    if not 1 <= args.limit <= 1000:
        raise CliUsageError("--limit must be 1..1000")
    target = resolve_target(args)

    async def work() -> None:
        async with _database(target) as (db, infra):
            letters = await list_dead_letters(
                db,
                infra.dead_letters,
                consumer=args.consumer,
                include_replayed=args.all,
                after_id=args.after_id,
                limit=args.limit,
            )
        ctx.output.emit([_letter_dict(d) for d in letters], lambda: letters_table(letters))

    return await _guarded(ctx, work())


async def _show(args: argparse.Namespace, ctx: Context) -> int | None:
    from mes_kernel.errors import NotFound
    from mes_platform.messaging.deadletters import get_dead_letter

    target = resolve_target(args)

    async def work() -> None:
        async with _database(target) as (db, infra):
            letter = await get_dead_letter(db, infra.dead_letters, args.id)
        if letter is None:
            raise NotFound(f"dead letter {args.id} does not exist")
        pairs: list[tuple[str, object]] = [
            ("id", letter.id),
            ("consumer", letter.consumer),
            ("subject", letter.subject),
            ("event id", letter.event_id),
            ("deliveries", letter.deliveries),
            ("created", _stamp(letter.created_at)),
            ("replayed", _stamp(letter.replayed_at)),
            ("payload", f"{len(letter.payload)} bytes"),
        ]
        ctx.output.emit(_letter_dict(letter), lambda: details(pairs) + "\n\n" + letter.error)

    return await _guarded(ctx, work())


async def _replay(args: argparse.Namespace, ctx: Context) -> int | None:
    from mes_platform.messaging.deadletters import replay_dead_letter

    target = resolve_target(args)
    results: list[dict[str, Any]] = []

    async def work() -> None:
        async with _database(target) as (db, infra), _nats(target) as conn:
            for letter_id in args.id:
                result = await replay_dead_letter(db, infra.dead_letters, conn.js, letter_id)
                results.append(
                    {
                        "id": result.dead_letter_id,
                        "msg_id": result.msg_id,
                        "stream": result.stream,
                        "seq": result.seq,
                        "duplicate": result.duplicate,
                    }
                )

    status = await _guarded(ctx, work())
    rows = [(r["id"], r["msg_id"], r["stream"], r["seq"], r["duplicate"]) for r in results]
    ctx.output.emit(
        results, lambda: table(["ID", "MSG ID", "STREAM", "SEQ", "DUPLICATE"], rows, empty="(nothing replayed)")
    )
    return status


async def _republish(args: argparse.Namespace, ctx: Context) -> int | None:
    from mes_platform.messaging.relay import OutboxRelay, PublishError

    if args.until <= args.since:
        raise CliUsageError("--until must be after --since")
    target = resolve_target(args)
    published: list[int] = []

    async def work() -> None:
        async with _database(target) as (db, infra), _nats(target) as conn:
            relay = OutboxRelay(db, infra.outbox, conn.js, target.service)
            try:
                published.append(await relay.republish(args.since, args.until))
            except PublishError as exc:
                raise _Unavailable(str(exc)) from exc

    status = await _guarded(ctx, work())
    count = published[0] if published else 0
    result = {
        "service": target.service,
        "since": args.since.isoformat(),
        "until": args.until.isoformat(),
        "published": count,
    }
    ctx.output.emit(
        result,
        lambda: (
            f"re-published {count} {target.service} event(s) created in [{_stamp(args.since)}, {_stamp(args.until)})"
        ),
    )
    return status
