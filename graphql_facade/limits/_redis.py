"""Lua scripts run with EVALSHA, falling back to EVAL when the server lost its cache (private)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

__all__ = ["LuaScript", "as_float", "as_str"]


class LuaScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        try:
            return await cast("Awaitable[Any]", redis.evalsha(self.sha, len(keys), *keys, *args))
        except NoScriptError:
            # EVAL also caches the script, so the next call's EVALSHA succeeds.
            return await cast("Awaitable[Any]", redis.eval(self.source, len(keys), *keys, *args))


def as_float(value: Any) -> float:
    return float(value.decode() if isinstance(value, bytes) else value)


def as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
