"""Process roles and the graceful stop's knobs: ROLE, SHUTDOWN_DELAY_S, RELAY in an api process,
the relay's wake subject (outside every stream), coalesced wake-ups, and the signals."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field

import pytest

from mes_contracts.events import STREAMS
from mes_platform.config import ServiceSettings
from mes_platform.lifecycle import ShutdownSignals, sleep_unless
from mes_platform.messaging.subjects import subject_matches
from mes_platform.relay_wake import RelayWaker, wake_subject
from mes_platform.roles import relay_in_api


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings.from_env("orders", env=env)


def test_a_process_runs_everything_unless_told_its_role() -> None:
    got = settings()
    assert got.role == "all" and got.serves_api and got.runs_workers
    api = settings(MES_ORDERS_ROLE="API")
    assert api.role == "api" and api.serves_api and not api.runs_workers
    worker = settings(MES_ROLE="worker")
    assert worker.role == "worker" and not worker.serves_api and worker.runs_workers


def test_an_unknown_role_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="ROLE must be one of all, api, worker"):
        settings(MES_ORDERS_ROLE="consumer")


def test_shutdown_delay_and_grace() -> None:
    assert (settings().shutdown_delay_s, settings().shutdown_grace_s) == (5.0, 10.0)
    got = settings(MES_SHUTDOWN_DELAY_S="0", MES_ORDERS_SHUTDOWN_GRACE_S="2.5")
    assert (got.shutdown_delay_s, got.shutdown_grace_s) == (0.0, 2.5)
    for key in ("SHUTDOWN_DELAY_S", "SHUTDOWN_GRACE_S"):
        with pytest.raises(ValueError, match=key):
            settings(**{f"MES_{key}": "-1"})


def test_an_api_process_runs_a_relay_only_when_asked_explicitly() -> None:
    assert not relay_in_api(settings(MES_ORDERS_ROLE="api").knobs)
    assert relay_in_api(settings(MES_ORDERS_ROLE="api", MES_ORDERS_RELAY="1").knobs)
    assert not relay_in_api(settings(MES_RELAY="0").knobs)


def test_the_wake_subject_is_in_no_stream() -> None:
    for service in ("orders", "inventory", "production"):
        subject = wake_subject(service)
        assert service in subject
        assert not any(subject_matches(pattern, subject) for stream in STREAMS for pattern in stream.subjects)


@dataclass
class _FakeNc:
    sent: list[str] = field(default_factory=list)
    is_connected: bool = True
    published: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, subject: str, payload: bytes) -> None:
        self.sent.append(subject)
        self.published.set()


@dataclass
class _FakeConnection:
    nc: _FakeNc = field(default_factory=_FakeNc)
    closed: bool = False

    def connected(self) -> bool:
        return self.nc.is_connected

    async def close(self) -> None:
        self.closed = True


async def test_wake_ups_are_coalesced_and_the_last_one_is_sent_on_stop() -> None:
    conn = _FakeConnection()
    waker = RelayWaker("orders")

    async def connect() -> _FakeConnection:
        return conn

    waker.start(connect)  # type: ignore[arg-type]
    for _ in range(50):  # fifty commits in one go: one wake-up
        waker.notify()
    await asyncio.wait_for(conn.nc.published.wait(), timeout=5)
    for _ in range(3):  # let the waker loop run again: nothing more is pending
        await asyncio.sleep(0)
    assert conn.nc.sent == [wake_subject("orders")]
    waker.notify()  # a commit right before the stop
    await waker.stop()
    assert len(conn.nc.sent) == 2 and conn.closed


async def test_a_waker_that_never_connected_stops_at_once() -> None:
    waker = RelayWaker("orders")
    never = asyncio.Event()

    async def connect() -> _FakeConnection:
        await never.wait()
        raise AssertionError("unreachable")

    waker.start(connect)  # type: ignore[arg-type]
    waker.notify()
    await waker.stop()
    assert waker.sent == 0 and not waker.connected


async def test_the_first_signal_asks_for_a_stop_and_a_second_one_hurries_it() -> None:
    signals = ShutdownSignals()
    signals._received(signal.SIGTERM)
    await asyncio.wait_for(signals.wait(), timeout=5)
    assert not signals.hurry.is_set()
    signals._received(signal.SIGINT)
    assert signals.hurry.is_set()


async def test_sleep_unless_ends_when_the_event_is_set() -> None:
    event = asyncio.Event()
    sleeper = asyncio.create_task(sleep_unless(3600, event))
    await asyncio.sleep(0)
    event.set()
    await asyncio.wait_for(sleeper, timeout=5)
    await sleep_unless(3600, event)  # already set: returns at once
    await sleep_unless(0, None)
