"""One computation per key at a time (single flight), in tasks of their own.

A computation runs in its own task, so the request that started it can go away without failing
the others waiting for it; everyone awaits it through :func:`asyncio.shield`. Background
computations (recomputing a stale answer that is being served meanwhile) are bounded: past
``max_background`` running at once, a new one is not started (the stale answer is served until
its bound, then requests start the computation themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from graphql_facade.metrics import CACHE_REFRESHES
from mes_platform.telemetry.logs import get_logger

__all__ = ["Flight", "Flights"]

T = TypeVar("T")
_log = get_logger("mes.facade.cache")


@dataclass(eq=False)
class Flight(Generic[T]):
    task: asyncio.Task[T]
    #: ``time.monotonic()`` when it started.
    started: float
    background: bool

    async def wait(self) -> T:
        return await asyncio.shield(self.task)


class Flights(Generic[T]):
    def __init__(self, *, max_background: int) -> None:
        self._running: dict[str, Flight[T]] = {}
        self._max_background = max_background
        self._background = 0

    def __len__(self) -> int:
        return len(self._running)

    def get(self, key: str) -> Flight[T] | None:
        return self._running.get(key)

    def start(self, key: str, run: Callable[[], Awaitable[T]], *, background: bool = False) -> Flight[T] | None:
        """Start computing ``key`` (None: a background computation over the bound, not started)."""
        if background:
            if self._background >= self._max_background:
                CACHE_REFRESHES.labels("deferred").inc()
                return None
            self._background += 1

        async def body() -> T:
            return await run()

        flight = Flight(
            asyncio.get_running_loop().create_task(body(), name=f"cache:{key[:40]}"), time.monotonic(), background
        )
        self._running[key] = flight
        flight.task.add_done_callback(lambda _task: self._done(key, flight))
        return flight

    def _done(self, key: str, flight: Flight[T]) -> None:
        if self._running.get(key) is flight:
            del self._running[key]
        if flight.background:
            self._background -= 1
        task = flight.task
        if task.cancelled():
            return
        error = task.exception()  # retrieved here: a background failure has nobody else to see it
        if flight.background:
            CACHE_REFRESHES.labels("failed" if error is not None else "done").inc()
            if error is not None:
                _log.warning("cache_refresh_failed", error=type(error).__name__, detail=str(error)[:200])

    async def aclose(self) -> None:
        tasks = [flight.task for flight in self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._running.clear()
