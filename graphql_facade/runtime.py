"""The facade's long-lived parts, opened and closed together (used by ``app.create_app``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from graphql_facade.auth import Authenticator, Viewer
from graphql_facade.backend import Backend, open_backend
from graphql_facade.caching import Cache, NullCache, ReferenceCache, open_cache
from graphql_facade.compiled import PlanCache
from graphql_facade.config import FacadeSettings
from graphql_facade.context import PreparedDocument, RequestContext
from graphql_facade.events import EventEnvelope, EventHub, Listener
from graphql_facade.limits import (
    Limiters,
    LimitGuard,
    Limits,
    LimitsConfig,
    PersistedQueryStore,
    QueryStore,
    RedisPersistedQueryStore,
    make_limiters,
)
from graphql_facade.loaders import WorkCenterDirectory
from graphql_facade.partner_sockets import PartnerSockets
from graphql_facade.response_cache import CacheConfig, ResponseCache
from graphql_facade.schema import Schemas, build_schemas
from graphql_facade.schema.floor import FloorTiles, floor_feed
from graphql_facade.sessions import Sessions
from graphql_facade.subscriptions import CountersFeed, SubscriptionSlots
from graphql_facade.usage import SubmissionWatch, UsageMeter
from graphql_facade.usage_events import UsagePublisher
from mes_contracts import events as contracts
from mes_platform.telemetry.logs import get_logger

__all__ = ["Facade"]

_log = get_logger("mes.facade")


class EventSource(Protocol):
    """Feeds the hub from the broker (``adapters.nats_events.NatsEventSource``)."""

    @property
    def connected(self) -> bool: ...

    async def aclose(self) -> None: ...


@dataclass
class Facade:
    settings: FacadeSettings
    backend: Backend
    cache: Cache
    #: Answers of queries (their ``Answer.result`` is the pipeline's ``Executed``).
    responses: ResponseCache[Any] | None
    reference: ReferenceCache | None
    hub: EventHub
    authenticator: Authenticator
    schemas: Schemas
    limits: LimitsConfig
    limiters: Limiters
    guard: LimitGuard
    apq: QueryStore
    slots: SubscriptionSlots
    counters: CountersFeed
    #: compiled query plans (None: every query runs on Strawberry)
    plans: PlanCache | None = None
    closer: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    events: EventSource | None = None
    #: The partners' open WebSockets (closed on a revoked key; set by :meth:`start`).
    sockets: PartnerSockets | None = None
    #: The partners' API usage per minute and its publisher (None: no NATS, or MES_FACADE_USAGE_EVENTS=0).
    usage: UsageMeter | None = None
    usage_events: UsagePublisher | None = None
    #: Operators' sessions (the ``mes_session`` cookie), checked with the production service; the
    #: authenticator and the sign-in routes share them.
    sessions: Sessions | None = None
    #: The work centers every request and ``floorEvents`` read (kept while the hub is live).
    work_centers: WorkCenterDirectory | None = None

    @classmethod
    async def start(
        cls,
        settings: FacadeSettings,
        *,
        backend: Backend | None = None,
        cache: Cache | None = None,
        hub: EventHub | None = None,
        events: bool = True,
    ) -> Facade:
        """Open channels, caches, limiters, (with ``NATS_URL`` and ``events``) the event consumers and
        (with ``NATS_URL``, unless ``MES_FACADE_USAGE_EVENTS=0``) the publisher of the partners' usage.

        Everything opened is closed in reverse order by :meth:`aclose` (or here, when opening fails);
        a part that fails to close is logged and the others are still closed.
        """
        closer = contextlib.AsyncExitStack()
        try:
            if backend is None:
                counted = settings.usage_events and settings.nats_url  # the partners' submissions too
                backend = open_backend(settings, interceptors=[SubmissionWatch()] if counted else ())
            await backend.open()
            _on_close(closer, "backend", backend.aclose)
            if cache is None:
                cache = (
                    open_cache(settings.redis_url, max_entries=settings.memory_cache_max_entries)
                    if settings.cache_enabled
                    else NullCache()
                )
            _on_close(closer, "cache", cache.aclose)
            hub = hub or EventHub(replay_buffer=settings.event_replay_buffer)
            _on_close(closer, "hub", hub.aclose)
            responses: ResponseCache[Any] | None = None
            if settings.cache_enabled:
                config = CacheConfig.from_env(
                    settings.env, ttl_s=settings.response_cache_ttl_s, max_entries=settings.memory_cache_max_entries
                )
                responses = ResponseCache(config, hub, shared=cache if settings.redis_url else None)
                _on_close(closer, "responses", responses.aclose)
            reference = ReferenceCache(cache, ttl_s=settings.reference_cache_ttl_s) if settings.cache_enabled else None
            if reference is not None:
                hub.add_listener(_reference_invalidator(reference))
            work_centers = WorkCenterDirectory(backend, hub=hub)
            # The floor's replay buffer starts with the facade: a first floorEvents subscriber resuming
            # with `since` finds what happened before it.
            floor = floor_feed(
                hub,
                FloorTiles(backend, reference, settings.stats_window_minutes, work_centers),
                replay_buffer=settings.event_replay_buffer,
            )
            _on_close(closer, "floor", floor.aclose)
            limiters = make_limiters(settings.redis_url)
            _on_close(closer, "limiters", limiters.aclose)
            apq: QueryStore = (
                RedisPersistedQueryStore(limiters.redis) if limiters.redis is not None else PersistedQueryStore()
            )
            counters = CountersFeed(backend, hub, interval_s=settings.counters_interval_s)
            sessions = Sessions(backend, ttl_s=settings.session_cache_ttl_s)
            _on_close(closer, "counters", counters.aclose)
            facade = cls(
                settings=settings,
                backend=backend,
                cache=cache,
                responses=responses,
                reference=reference,
                hub=hub,
                authenticator=Authenticator(
                    settings.operator_tokens,
                    backend,
                    api_key_ttl_s=settings.api_key_cache_ttl_s,
                    legacy_api_keys=settings.legacy_api_keys,
                    negative_ttl_s=settings.api_key_negative_ttl_s,
                    negative_cache_size=settings.api_key_negative_cache_size,
                    token_roles=settings.operator_token_roles,
                    sessions=sessions,
                ),
                schemas=build_schemas(document_cache_size=settings.document_cache_size),
                limits=LimitsConfig.from_env(settings.env),
                limiters=limiters,
                guard=LimitGuard(limiters.bucket, limiters.rate),
                apq=apq,
                slots=SubscriptionSlots(settings.max_subscriptions_per_partner),
                counters=counters,
                plans=PlanCache(settings.document_cache_size) if settings.compiled_execution else None,
                closer=closer,
                sessions=sessions,
                work_centers=work_centers,
            )
            facade.sockets = PartnerSockets(facade.authenticator, recheck_s=settings.ws_recheck_s)
            hub.add_listener(facade.sockets.on_event)
            _on_close(closer, "sockets", facade.sockets.aclose)
            if events and settings.nats_url:
                from graphql_facade.adapters.nats_events import NatsEventSource

                source = NatsEventSource(settings.nats_url, hub, name=f"mes-facade-{settings.instance}")
                await source.start()
                _on_close(closer, "events", source.aclose)
                facade.events = source
            if settings.usage_events and settings.nats_url:
                _start_usage_events(facade, closer, settings.nats_url)
            return facade
        except BaseException:
            await closer.aclose()
            raise

    def limits_for(self, viewer: Viewer) -> Limits:
        if viewer.tier is not None:
            return self.limits.for_partner(viewer.tier)
        return self.limits.for_operator()

    def context(self, viewer: Viewer | None, prepared: PreparedDocument | None = None) -> RequestContext:
        return RequestContext(
            backend=self.backend,
            hub=self.hub,
            settings=self.settings,
            reference=self.reference,
            slots=self.slots,
            counters=self.counters,
            work_centers=self.work_centers,
            viewer_=viewer,
            prepared=prepared,
            as_of=self.hub.as_of(),
            partner_position=(
                self.hub.partner_position(viewer.partner_id) if viewer is not None and viewer.partner_id else None
            ),
        )

    async def aclose(self) -> None:
        await self.closer.aclose()


def _on_close(stack: contextlib.AsyncExitStack, name: str, close: Callable[[], Awaitable[object]]) -> None:
    """Close ``name`` when the stack unwinds; a failure is logged, not raised (the rest still closes)."""

    async def quietly() -> None:
        try:
            await close()
        except Exception:
            _log.exception("close_failed", resource=name)

    stack.push_async_callback(quietly)


def _start_usage_events(facade: Facade, closer: contextlib.AsyncExitStack, nats_url: str) -> None:
    """Count the partners' requests and publish them per minute; on close the open minute is
    published first (the publisher stops before its connection closes)."""
    from graphql_facade.adapters.nats_usage import NatsUsageSink

    settings = facade.settings
    sink = NatsUsageSink(nats_url, name=f"mes-facade-{settings.instance}-usage")
    _on_close(closer, "usage-sink", sink.aclose)
    meter = UsageMeter(max_partners=settings.usage_max_partners)
    publisher = UsagePublisher(
        meter, sink.publish, instance=settings.instance, buffer_minutes=settings.usage_buffer_minutes
    )
    publisher.start()
    _on_close(closer, "usage-events", publisher.stop)
    facade.usage, facade.usage_events = meter, publisher


def _reference_invalidator(reference: ReferenceCache) -> Listener:
    """Forgets a style or alloy as soon as its upsert event arrives (the TTL bounds the rest)."""
    tasks: set[asyncio.Task[None]] = set()

    def forget(event: EventEnvelope) -> None:
        kind, ident = "", ""
        if event.subject == contracts.STYLE_UPSERTED.subject:
            kind, ident = "style", contracts.STYLE_UPSERTED.decode(event.data).style.sku
        elif event.subject == contracts.ALLOY_UPSERTED.subject:
            kind, ident = "alloy", contracts.ALLOY_UPSERTED.decode(event.data).alloy.code
        if kind and ident:
            task = asyncio.get_running_loop().create_task(reference.forget(kind, ident))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    return forget
