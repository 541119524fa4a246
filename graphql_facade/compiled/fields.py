"""How the compiled path reads a field: a getter over the source object, or a batch resolver.

Sources are what the services answered (protobuf messages), never the Strawberry objects the
generic path builds: a getter reads the one attribute the document selects and returns the value
as it appears in JSON (enum names, ISO date-times, ``None`` for null). A batch resolver gets every
source of a level at once and answers one value (or the exception) per source, so the
DataLoaders of the request see every key of the level before they dispatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from graphql_facade.context import RequestContext

__all__ = [
    "Args",
    "Batch",
    "Getter",
    "Spec",
    "TypeSpecs",
    "as_json",
    "attribute",
    "each",
    "enum_names",
    "iso",
    "loaded",
    "one",
]

Args: TypeAlias = Mapping[str, Any]
#: ``load(context, sources, arguments)`` -> one value or exception per source.
BatchFn: TypeAlias = Callable[[RequestContext, Sequence[Any], Args], Awaitable[list[Any]]]


@dataclass(frozen=True, slots=True)
class Getter:
    """A plain field: ``get(source)`` is its value (JSON-ready for leaves, the child source otherwise)."""

    get: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """A resolver-backed field, run once for all the sources of a level."""

    load: BatchFn


Spec: TypeAlias = Getter | Batch
#: GraphQL type name -> field name -> how to read it.
TypeSpecs: TypeAlias = dict[str, dict[str, Spec]]


def enum_names(cls: type[Enum]) -> Callable[[int], str | None]:
    """The GraphQL name of a protobuf enum value (None for UNSPECIFIED or unknown: ``optional_enum``)."""
    names = {member.value: member.name for member in cls}
    return names.get


def as_json(value: Any) -> Any:
    """A Python value of a Strawberry object as the schema writes it: a date-time in ISO 8601, an enum member
    by its name, anything else as it is."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.name
    return value


def attribute(attr: str) -> Getter:
    """A field that is the attribute ``attr`` of a Strawberry object, written as JSON (:func:`as_json`)."""
    return Getter(lambda source: as_json(getattr(source, attr)))


def iso(stamp: Timestamp) -> str | None:
    """A timestamp as the DateTime scalar writes it (``datetime.isoformat``); None when unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    return stamp.ToDatetime(tzinfo=UTC).isoformat()


def loaded(loader: Callable[[RequestContext], Any], key: Callable[[Any], Any]) -> Batch:
    """One ``loader.load(key(source))`` per source, all issued before the loader dispatches."""

    async def load(context: RequestContext, sources: Sequence[Any], args: Args) -> list[Any]:
        keys = [key(source) for source in sources]
        distinct = list(dict.fromkeys(keys))  # the loader would answer a repeated key from its cache
        found = loader(context)
        futures = [found.load(k) for k in distinct]
        results: dict[Any, Any] = {}
        for k, future in zip(distinct, futures, strict=True):
            try:  # all resolve together when the batch returns: one wait, then done futures
                results[k] = await future
            except Exception as error:
                results[k] = error
        return [results[k] for k in keys]

    return Batch(load)


def each(resolve: Callable[[RequestContext, Any, Args], Awaitable[Any]]) -> Batch:
    """A resolver that cannot batch (one call per source, concurrently)."""

    async def load(context: RequestContext, sources: Sequence[Any], args: Args) -> list[Any]:
        if len(sources) == 1:
            try:
                return [await resolve(context, sources[0], args)]
            except Exception as error:
                return [error]
        return await asyncio.gather(*[resolve(context, s, args) for s in sources], return_exceptions=True)

    return Batch(load)


def one(resolve: Callable[[RequestContext, Args], Awaitable[Any]]) -> Batch:
    """A root field (its source is the root value)."""
    return each(lambda context, _source, args: resolve(context, args))
