"""Run execution under the request time limit (``Limits.request_timeout_s``).

On expiry the awaitable is cancelled (its pending gRPC calls with it) and
``LimitError(TIMEOUT)`` (HTTP 504) is raised. A ``TimeoutError`` raised by the awaitable
itself (not by this deadline) propagates unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from graphql_facade.limits.errors import LimitCode, LimitError

__all__ = ["run_with_timeout"]

T = TypeVar("T")


async def run_with_timeout(awaitable: Awaitable[T], timeout_s: float) -> T:
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            return await awaitable
    except TimeoutError:
        if not deadline.expired():
            raise
        raise LimitError(
            LimitCode.TIMEOUT,
            f"The request took longer than {timeout_s:g} s and was cancelled.",
            extensions={"timeoutSeconds": timeout_s},
        ) from None
