"""Which calls may be retried, and the retry loop (exponential back-off with jitter, shared deadline)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from clients._config import RetryPolicy
from clients._errors import DeadlineExceededError, UnavailableError

__all__ = ["IDEMPOTENT_PREFIXES", "call_with_retry", "is_idempotent"]

T = TypeVar("T")

#: Methods that read, or write the same result however often they run.
IDEMPOTENT_PREFIXES = ("Get", "List", "BatchGet", "Count", "Summarize", "Explode", "Upsert")
#: Mutations the contract declares idempotent per key (the order) without a request_id.
_IDEMPOTENT_METHODS = frozenset({"ReserveOrder", "CreateWorkOrders"})


def is_idempotent(method: str, request: Message) -> bool:
    """True for reads, upserts, per-order idempotent calls and requests carrying a non-empty request_id."""
    if method.startswith(IDEMPOTENT_PREFIXES) or method in _IDEMPOTENT_METHODS:
        return True
    fields = request.DESCRIPTOR.fields_by_name
    return "request_id" in fields and bool(getattr(request, "request_id", ""))


async def call_with_retry(
    attempt: Callable[[float], Awaitable[T]],
    *,
    deadline_s: float,
    policy: RetryPolicy,
    retryable: bool,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    random_unit: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``attempt(timeout_s)`` until it succeeds, fails with a non-retryable error, or time runs out.

    Only :class:`UnavailableError` is retried, and only when ``retryable``. Every attempt gets the time
    left of the overall ``deadline_s`` as its own deadline.
    """
    give_up_at = clock() + deadline_s
    number = 0
    while True:
        number += 1
        remaining = give_up_at - clock()
        if remaining <= 0:
            raise DeadlineExceededError(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline of {deadline_s:g}s exceeded after retries"
            )
        try:
            return await attempt(remaining)
        except UnavailableError:
            if not retryable or number >= policy.max_attempts:
                raise
            delay = policy.backoff(number, random_unit())
            if clock() + delay >= give_up_at:
                raise
            await sleep(delay)
