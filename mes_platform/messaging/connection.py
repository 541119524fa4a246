"""The NATS connection of a process.

* Reconnects forever (``max_reconnect_attempts=-1``); the initial connect retries too,
  optionally bounded by ``initial_timeout_s``.
* ``NATS_URL`` may list several servers, comma separated (the nodes of a cluster:
  ``nats://a:4222,nats://b:4222``); :func:`nats_servers` splits it and the client gets the
  list, so it connects to any node that answers and moves to another when that one goes.
* Disconnects, reconnects, errors and the final close are logged.
* :meth:`NatsConnection.connected` / :meth:`NatsConnection.probe` feed the health monitor.
* :meth:`NatsConnection.close` unsubscribes the pull subscriptions first (a pull
  subscription whose last ``fetch`` timed out would otherwise keep ``drain()`` waiting for
  the whole drain timeout), then drains with a bounded timeout, then closes.

Pull subscriptions register themselves with :func:`track_pull_subscription` (the
consumer framework does it); the registry is keyed by the underlying client.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref

from nats.aio.client import Client
from nats.js import JetStreamContext

from mes_platform.telemetry.logs import get_logger

__all__ = [
    "NatsConnection",
    "client_of",
    "connect_nats",
    "nats_servers",
    "track_pull_subscription",
    "untrack_pull_subscription",
]

_log = get_logger("mes.messaging.nats")

PullSubscription = JetStreamContext.PullSubscription
_PULL_SUBS: weakref.WeakKeyDictionary[Client, set[PullSubscription]] = weakref.WeakKeyDictionary()


def nats_servers(servers: str | list[str]) -> list[str]:
    """The server URLs of ``servers``: a list as given, or a comma-separated string split."""
    items = servers.split(",") if isinstance(servers, str) else servers
    found = [item.strip() for item in items if item.strip()]
    if not found:
        raise ValueError("no NATS server URL given")
    return found


def client_of(js: JetStreamContext) -> Client:
    """The core client behind a JetStream context."""
    return js._nc


def track_pull_subscription(js: JetStreamContext, sub: PullSubscription) -> None:
    _PULL_SUBS.setdefault(client_of(js), set()).add(sub)


def untrack_pull_subscription(js: JetStreamContext, sub: PullSubscription) -> None:
    subs = _PULL_SUBS.get(client_of(js))
    if subs is not None:
        subs.discard(sub)


async def unsubscribe_quietly(sub: PullSubscription) -> None:
    with contextlib.suppress(Exception):
        await sub.unsubscribe()


class NatsConnection:
    """One NATS client and its JetStream context."""

    def __init__(self, nc: Client, *, name: str, drain_timeout_s: float) -> None:
        self.nc = nc
        self.name = name
        self.drain_timeout_s = drain_timeout_s
        self.js: JetStreamContext = nc.jetstream()

    def connected(self) -> bool:
        return self.nc.is_connected

    async def probe(self) -> bool:
        """Health probe (``HealthMonitor`` takes async callables)."""
        return self.connected()

    async def close(self) -> None:
        """Unsubscribe pull subscriptions, drain (bounded), close. Safe to call twice."""
        nc = self.nc
        if nc.is_closed:
            return
        for sub in list(_PULL_SUBS.pop(nc, set())):
            await unsubscribe_quietly(sub)
        # Wait for outstanding asynchronous publishes a little (their acks are useful).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.js.publish_async_completed(), timeout=min(1.0, self.drain_timeout_s))
        if nc.is_connected:
            try:
                # drain() closes the connection when done; its own timeout is an int option,
                # so bound it from outside as well.
                await asyncio.wait_for(nc.drain(), timeout=self.drain_timeout_s + 1.0)
            except Exception as exc:
                _log.warning("nats_drain_failed", error=repr(exc))
        if not nc.is_closed:
            await nc.close()


async def connect_nats(
    servers: str | list[str],
    *,
    name: str,
    connect_timeout_s: float = 2.0,
    reconnect_time_wait_s: float = 1.0,
    drain_timeout_s: float = 5.0,
    initial_timeout_s: float | None = None,
    ping_interval_s: float = 20.0,
) -> NatsConnection:
    """Connect (retrying forever, or until ``initial_timeout_s``) and return the connection.

    Raises ``TimeoutError`` when ``initial_timeout_s`` passes without a connection.
    """
    nc = Client()

    async def on_disconnected() -> None:
        if not nc.is_closed:
            _log.warning("nats_disconnected", connection=name)

    async def on_reconnected() -> None:
        _log.info("nats_reconnected", connection=name, server=str(nc.connected_url.netloc) if nc.connected_url else "")

    async def on_error(exc: Exception) -> None:
        _log.warning("nats_error", connection=name, error=repr(exc))

    async def on_closed() -> None:
        _log.info("nats_closed", connection=name)

    connect = nc.connect(
        servers=nats_servers(servers),
        name=name,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        closed_cb=on_closed,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        # nats-py types these as int but uses them as float seconds.
        connect_timeout=connect_timeout_s,  # type: ignore[arg-type]
        reconnect_time_wait=reconnect_time_wait_s,  # type: ignore[arg-type]
        drain_timeout=drain_timeout_s,  # type: ignore[arg-type]
        ping_interval=ping_interval_s,  # type: ignore[arg-type]
    )
    try:
        if initial_timeout_s is None:
            await connect
        else:
            await asyncio.wait_for(connect, timeout=initial_timeout_s)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    _log.info("nats_connected", connection=name, server=str(nc.connected_url.netloc) if nc.connected_url else "")
    return NatsConnection(nc, name=name, drain_timeout_s=drain_timeout_s)
