"""Commands that make one call on one named resource and show what the service answers (``orders get``,
``production work-order hold``, ``production work-center block``...), declared instead of written out:
which client method, which argument names the resource and in which collection, which options become
the call's keyword arguments, and how the answer is shown."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TypeVar

from clients import MesClients
from clients.cli._app import Context, Handler
from clients.cli._args import resource_name

__all__ = ["resource_command"]

M = TypeVar("M")


def resource_command(
    resource: tuple[str, str],
    render: Callable[[M], str],
    call: Callable[[MesClients], Callable[..., Awaitable[M]]],
    /,
    **options: str,
) -> Handler:
    """A handler calling ``call(clients)`` with the name of the resource that the argument
    ``resource[0]`` gives (an id or ``<collection>/<id>``, ``resource[1]`` being the collection) and,
    for each ``keyword="attribute"`` of ``options``, ``keyword=args.<attribute>``; it emits the answer,
    shown with ``render``. A module binds the first two with ``functools.partial`` for its kind of
    resource."""
    attribute, collection = resource

    async def handle(args: argparse.Namespace, ctx: Context) -> None:
        name = resource_name(getattr(args, attribute), collection)
        answer = await call(ctx.clients)(name, **{keyword: getattr(args, dest) for keyword, dest in options.items()})
        ctx.output.emit(answer, lambda: render(answer))

    return handle
