"""Answers -> protobuf: the messages of the gRPC responses.

A response message is its view field by field (same names): :func:`_message` copies every field from
the view's attribute of that name, and ``_SPECIAL`` computes the few that differ (optional percentiles
and their presence flag, the mix dimension, the stream positions).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from functools import cache, partial
from typing import Any, TypeVar, cast

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from mes.analytics.v1 import analytics_pb2 as pb
from services.analytics.domain import views as v

__all__ = [
    "as_of",
    "encode_event",
    "flow_analytics",
    "metal_analytics",
    "partner_analytics",
    "projection_status",
]

_DIMENSIONS = {v.MixDimension.STYLE: pb.MIX_DIMENSION_STYLE, v.MixDimension.ALLOY: pb.MIX_DIMENSION_ALLOY}
M = TypeVar("M", bound=Message)
_Fields = dict[str, object]


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def encode_event(event: object) -> object:
    """The service publishes no events (the unit-of-work factory asks for an encoder)."""
    raise TypeError(f"the analytics service publishes no events, got {type(event).__name__}")


def _present(flag: str, names: tuple[str, ...], values: tuple[float, ...] | None) -> _Fields:
    """Optional figures: ``flag`` set and the values, or zeros with the flag unset (a percentile below
    its minimum sample)."""
    if values is None:
        return dict.fromkeys(names, 0.0)
    return {flag: True, **dict(zip(names, values, strict=True))}


def _median(value: v.Cadence) -> _Fields:
    gap = value.median_gap_days
    return _present("has_median", ("median_gap_days",), None if gap is None else (gap,))


_LATENCY = ("p50_ms", "p95_ms")
#: The fields of a message that are not its view's attribute of the same name, computed from the view
#: (every other field is copied by :func:`_message`).
_SPECIAL: dict[type[Message], Callable[[Any], _Fields]] = {
    pb.AsOf: lambda a: {"positions": [pb.StreamPosition(stream=s, sequence=q) for s, q in a.positions]},
    pb.MixShare: lambda s: {"dimension": _DIMENSIONS[s.dimension]},
    pb.LeadTime: lambda t: _present("has_percentiles", ("p50_hours", "p85_hours", "p95_hours"), t.percentiles),
    pb.Cadence: _median,
    pb.ApiUsageBucket: lambda u: _present("has_percentiles", _LATENCY, u.latency),
    pb.ApiOperationUsage: lambda o: _present("has_percentiles", _LATENCY, o.latency),
    pb.ValueStreamStep: lambda s: _present(
        "has_percentiles", ("queue_p50_min", "queue_p85_min", "touch_p50_min", "touch_p85_min"), s.percentiles
    ),
}
#: The presence flags: set by a ``_SPECIAL`` entry or left unset (false), never copied.
_FLAGS = frozenset({"has_percentiles", "has_median"})


@cache
def _plan(kind: Hashable) -> tuple[tuple[str, Callable[[Any], object]], ...]:
    """How each field of message type ``kind`` is copied from the view's attribute of the same name: a
    timestamp from a datetime, a message (or a list of them) by :func:`_message` of its own type, the
    rest as it is."""
    descriptor = cast(type[Message], kind).DESCRIPTOR
    plan: list[tuple[str, Callable[[Any], object]]] = []
    for field in descriptor.fields:
        nested = field.message_type
        if field.name in _FLAGS:
            continue
        if nested is None:
            plan.append((field.name, _as_is))
        elif nested.full_name == Timestamp.DESCRIPTOR.full_name:
            plan.append((field.name, cast(Callable[[Any], object], _ts)))
        elif field.is_repeated:
            plan.append((field.name, partial(_messages, getattr(pb, nested.name))))
        else:
            plan.append((field.name, partial(_message, getattr(pb, nested.name))))
    return tuple(plan)


def _as_is(value: object) -> object:
    return value


def _message(kind: type[M], value: object) -> M:
    """``kind`` from a view: the fields ``_SPECIAL`` computes for it, the others copied (:func:`_plan`).
    A view without an attribute for a field raises ``AttributeError`` (the two must stay in step)."""
    special = _SPECIAL.get(kind)
    fields = special(value) if special is not None else {}
    for name, convert in _plan(cast(Hashable, kind)):
        if name not in fields:
            fields[name] = convert(getattr(value, name))
    return kind(**fields)


def _messages(kind: type[M], values: Iterable[object]) -> list[M]:
    return [_message(kind, value) for value in values]


def as_of(value: v.AsOf) -> pb.AsOf:
    return _message(pb.AsOf, value)


def partner_analytics(value: v.PartnerAnalytics) -> pb.GetPartnerAnalyticsResponse:
    return _message(pb.GetPartnerAnalyticsResponse, value)


def flow_analytics(value: v.FlowAnalytics) -> pb.GetFlowAnalyticsResponse:
    return _message(pb.GetFlowAnalyticsResponse, value)


def metal_analytics(value: v.MetalAnalytics) -> pb.GetMetalAnalyticsResponse:
    return _message(pb.GetMetalAnalyticsResponse, value)


def projection_status(value: v.ProjectionStatus) -> pb.GetProjectionStatusResponse:
    return _message(pb.GetProjectionStatusResponse, value)
