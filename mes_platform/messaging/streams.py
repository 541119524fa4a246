"""JetStream streams of the MES: one per producing service.

Streams use *limits* retention, so several services (and every facade replica) can
consume the same subjects with their own durable consumers; messages are kept until
``max_age`` whatever the consumers do. Storage is on file. The duplicate window is the
time within which a re-published event (same ``Nats-Msg-Id``) is dropped by JetStream;
past it, consumers' inbox tables deduplicate.

:func:`ensure_streams` runs at start-up of every process that publishes or consumes;
it creates missing streams and updates changed ones, so it is idempotent and safe to
run from every replica at once. It never lowers the replica count of an existing stream
(an operator may have raised it, or another process runs with a higher ``STREAM_REPLICAS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.errors import BadRequestError

from mes_contracts.events import INVENTORY_STREAM, ORDERS_STREAM, PRODUCTION_STREAM, STREAMS, StreamName
from mes_platform.messaging.backoff import server_backoff
from mes_platform.messaging.subjects import subject_matches
from mes_platform.telemetry.logs import get_logger

__all__ = [
    "DEFAULT_DUPLICATE_WINDOW_S",
    "DEFAULT_MAX_AGE_S",
    "INVENTORY",
    "MES_STREAMS",
    "ORDERS",
    "PRODUCTION",
    "StreamSpec",
    "check_consumer_name",
    "consumer_config",
    "durable_name",
    "ensure_streams",
    "stream_config",
    "stream_for_subject",
]

_log = get_logger("mes.messaging.streams")

DEFAULT_DUPLICATE_WINDOW_S = 120.0
DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0
#: Server error code "stream name already in use with a different configuration".
_STREAM_NAME_IN_USE = 10058


#: A stream and its subjects, as declared in the registry of events.
StreamSpec = StreamName
ORDERS = ORDERS_STREAM
INVENTORY = INVENTORY_STREAM
PRODUCTION = PRODUCTION_STREAM
MES_STREAMS: tuple[StreamSpec, ...] = STREAMS


def stream_config(
    spec: StreamSpec,
    *,
    replicas: int = 1,
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
) -> StreamConfig:
    if duplicate_window_s <= 0 or max_age_s <= 0:
        raise ValueError("duplicate_window_s and max_age_s must be > 0")
    if duplicate_window_s > max_age_s:
        raise ValueError("the duplicate window cannot be longer than max_age")
    return StreamConfig(
        name=spec.name,
        description=spec.description or None,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        max_age=max_age_s,
        duplicate_window=duplicate_window_s,
    )


def stream_for_subject(subject: str, streams: Iterable[StreamSpec] = MES_STREAMS) -> StreamSpec:
    """The stream whose subjects cover ``subject`` (``orders.order.submitted`` -> ORDERS)."""
    for spec in streams:
        if any(subject_matches(pattern, subject) for pattern in spec.subjects):
            return spec
    raise LookupError(f"no stream captures subject {subject!r}")


async def ensure_streams(
    js: JetStreamContext,
    streams: Iterable[StreamSpec] = MES_STREAMS,
    *,
    replicas: int = 1,
    duplicate_window_s: float = DEFAULT_DUPLICATE_WINDOW_S,
    max_age_s: float = DEFAULT_MAX_AGE_S,
) -> dict[str, StreamInfo]:
    """Create the streams, or update them when their configuration changed.

    ``replicas`` is a minimum: an existing stream with more replicas keeps them.
    """
    if replicas < 1:
        raise ValueError("replicas must be >= 1")
    infos: dict[str, StreamInfo] = {}
    for spec in streams:
        config = stream_config(spec, replicas=replicas, duplicate_window_s=duplicate_window_s, max_age_s=max_age_s)
        try:
            info = await js.add_stream(config)
            action = "created_or_unchanged"
        except BadRequestError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise
            existing = (await js.stream_info(spec.name)).config.num_replicas or 1
            if existing > replicas:
                config.num_replicas = existing
            info = await js.update_stream(config)
            action = "updated"
        infos[spec.name] = info
        _log.info(
            "stream_ensured",
            stream=spec.name,
            action=action,
            subjects=list(spec.subjects),
            replicas=info.config.num_replicas,
        )
    return infos


def check_consumer_name(name: str) -> str:
    if not name or len(name) > 80 or any(c in name for c in ".*> \t\r\n/\\"):
        raise ValueError(f"invalid durable consumer name {name!r}")
    return name


def durable_name(service: str, purpose: str) -> str:
    """``durable_name("inventory", "order-events")`` -> ``"inventory-order-events"``."""
    return check_consumer_name(f"{service}-{purpose}")


def consumer_config(
    durable: str,
    filter_subjects: Sequence[str],
    *,
    max_deliver: int,
    backoff: Sequence[float],
    ack_wait: float,
    max_ack_pending: int = 1000,
    description: str | None = None,
) -> ConsumerConfig:
    if max_deliver < 1:
        raise ValueError("max_deliver must be >= 1")
    server_max_deliver = max_deliver + 1  # the spare delivery that dead-letters a crashed last attempt
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        description=description,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=server_max_deliver,
        backoff=server_backoff(backoff, ack_wait=ack_wait, max_deliver=server_max_deliver),
        filter_subjects=list(filter_subjects),
        max_ack_pending=max_ack_pending,
    )
