"""Concurrent lookups of one key share one call (a partner's key, an operator's session).

The first caller for a key runs the call; callers arriving while it runs wait for its outcome (its
value, or its exception re-raised in each of them) instead of calling again. A waiter cancelled
while it waits does not cancel the shared call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K")
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The outcome of ``call`` for ``key``, and whether this caller ran it (False: it shared another's)."""
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending), False
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await call()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            return value, True
        finally:
            del self._pending[key]

    def __len__(self) -> int:
        return len(self._pending)
