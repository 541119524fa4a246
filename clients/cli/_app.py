"""What every command group shares: the command context, output, global options, registration.

Before a command runs, an address of its service that nothing gave (no ``--<service>-addr``, no
``MES_<SERVICE>_ADDR``, no running local stack's ``stack.json``) is named on stderr
(``Output.diagnostics``) with where the lookup went ("mesctl: no stack found at var/stack.json;
using 127.0.0.1:50151 (orders) from the defaults"): mesctl never connects to a default address
silently, another stack may listen there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO, TypeAlias

from google.protobuf import json_format
from google.protobuf.message import Message

from clients import ClientConfig, MesClients

__all__ = [
    "CliUsageError",
    "Context",
    "GroupModule",
    "Handler",
    "Output",
    "Subcommands",
    "add_command",
    "add_global_options",
    "add_group",
    "message_to_dict",
]

OutputFormat = Literal["table", "json"]
if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time on Python 3.11
    Subcommands = argparse._SubParsersAction


class CliUsageError(Exception):
    """A bad argument found after parsing (exit status 2)."""


@dataclass
class Output:
    """Where and how results are written: ``table`` text or ``json``; errors and notes on ``stderr``;
    diagnostics about the connection itself (which address a default gave) on ``diagnostics``, the
    process's stderr unless given, apart from the command's own messages."""

    format: OutputFormat = "table"
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    diagnostics: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def json(self) -> bool:
        return self.format == "json"

    def print(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def note(self, text: str) -> None:
        """A message for the human (stderr), never part of the result."""
        print(text, file=self.stderr)

    def diagnose(self, text: str) -> None:
        """A diagnostic about the connection (``diagnostics``), never part of the result."""
        print(text, file=self.diagnostics, flush=True)

    def emit(self, data: Any, render: Callable[[], str]) -> None:
        """Print ``data`` as JSON (messages via MessageToDict) or the table ``render()`` returns."""
        if self.json:
            self.print(json.dumps(to_jsonable(data), indent=2, sort_keys=False))
        else:
            self.print(render())


@dataclass
class Context:
    clients: MesClients
    output: Output
    config: ClientConfig


Handler = Callable[[argparse.Namespace, Context], Awaitable[int | None]]


class GroupModule(Protocol):
    """A command group module: ``register(subcommands)`` adds its parser and commands."""

    def register(self, commands: Subcommands, /) -> None: ...


def message_to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def to_jsonable(data: Any) -> Any:
    if isinstance(data, Message):
        return message_to_dict(data)
    if isinstance(data, dict):
        return {key: to_jsonable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [to_jsonable(item) for item in data]
    return data


# -- parsers ------------------------------------------------------------------------------


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The options every command accepts (before the group, or after the command)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection and output")
    for service in ("orders", "inventory", "production", "webhooks", "analytics"):
        group.add_argument(
            f"--{service}-addr", metavar="HOST:PORT", default=default(None), help=f"{service} service address"
        )
    group.add_argument("--token", default=default(None), help="bearer token (env MES_TOKEN)")
    group.add_argument(
        "--api-key", metavar="KEY", default=default(None), help="partner API key, orders only (env MES_API_KEY)"
    )
    group.add_argument(
        "--partner",
        dest="acting_partner",
        metavar="PARTNER_ID",
        default=default(None),
        help="act for this partner id (x-mes-partner)",
    )
    group.add_argument(
        "--tls", action="store_true", default=default(None), help="use TLS with system roots (env MES_TLS)"
    )
    group.add_argument(
        "--tls-ca-file", metavar="FILE", default=default(None), help="CA bundle; enables TLS (env MES_TLS_CA_FILE)"
    )
    group.add_argument(
        "--deadline", type=_positive_float, metavar="SECONDS", default=default(None), help="per-call deadline"
    )
    group.add_argument("--output", "-o", choices=("table", "json"), default=default("table"), help="output format")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return value


_LEAF_PARENT = argparse.ArgumentParser(add_help=False)
add_global_options(_LEAF_PARENT, suppress=True)


def add_group(commands: Subcommands, name: str, help: str) -> Subcommands:
    """A command group (``mesctl <name> ...``); returns the subcommands to add commands to."""
    parser = commands.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def add_command(
    commands: Subcommands, name: str, handler: Handler, help: str, *, aliases: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """A leaf command running ``handler(args, ctx)``; it accepts the global options too."""
    parser = commands.add_parser(name, help=help, description=help, aliases=list(aliases), parents=[_LEAF_PARENT])
    parser.set_defaults(handler=_saying_defaults(handler))
    return parser


#: The service each command group calls (the groups not named here call none).
GROUP_SERVICES: dict[str, str] = {
    "orders": "orders",
    "partners": "orders",
    "inventory": "inventory",
    "production": "production",
    "webhooks": "webhooks",
    "analytics": "analytics",
}


def default_address_notes(group: str | None, config: ClientConfig) -> list[str]:
    """What to say on stderr when the group's service address is a default one."""
    service = GROUP_SERVICES.get(group or "")
    address = config.defaulted().get(service or "")
    if service is None or address is None:
        return []
    where = config.stack_lookup or f"MES_{service.upper()}_ADDR is not set"
    return [
        f"mesctl: {where}; using {address} ({service}) from the defaults"
        f" (--{service}-addr or MES_{service.upper()}_ADDR chooses another)"
    ]


def _saying_defaults(handler: Handler) -> Handler:
    async def run(args: argparse.Namespace, ctx: Context) -> int | None:
        for note in default_address_notes(getattr(args, "group", None), ctx.config):
            ctx.output.diagnose(note)
        return await handler(args, ctx)

    return run
