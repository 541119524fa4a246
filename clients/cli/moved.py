"""Commands that moved out of ``mesctl``: ``mesctl events ...`` says where they went and exits 2.

The dead-letter and re-publishing tools open a service's database and NATS directly, so they are
the platform's: ``mes events dead-letters list|show|replay`` and ``mes events republish``, with the
same options. ``mesctl`` only calls the services' APIs (and the facade's, for ``watch``).
"""

from __future__ import annotations

import argparse

from clients.cli._app import CliUsageError, Context, Subcommands

__all__ = ["EVENTS_MOVED", "register"]

EVENTS_MOVED = (
    "the events commands moved to `mes events dead-letters list|show|replay` and `mes events republish` (same options)"
)


def register(commands: Subcommands) -> None:
    # Every argument after `events` (options, --help included) is taken as is, so each form gets the note.
    parser = commands.add_parser("events", help="moved to `mes events`", add_help=False, prefix_chars="\0")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=_moved)


async def _moved(args: argparse.Namespace, ctx: Context) -> int:
    raise CliUsageError(EVENTS_MOVED)
