"""Which calls may be retried, and the retry loop (exponential back-off with jitter, shared deadline).

A call is sent again only when doing so cannot apply it twice (:func:`is_idempotent`: reads,
upserts, per-order idempotent calls, and requests carrying a ``request_id``, which is the same
on every attempt) and only after a failure that says the server was unreachable or went away:

* ``UNAVAILABLE``: no server took the call, or one refused it while stopping;
* ``CANCELLED`` from the server (a local cancellation raises ``asyncio.CancelledError``
  instead): the server stopped while the call was queued or running, so whether it was
  applied is unknown; a repeat returns the first outcome (same request id) or reads again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from clients._config import RetryPolicy
from clients._errors import DeadlineExceededError, MesClientError

__all__ = ["IDEMPOTENT_PREFIXES", "RETRIED_CODES", "call_with_retry", "is_idempotent"]

T = TypeVar("T")

#: Methods that read, or write the same result however often they run.
IDEMPOTENT_PREFIXES = ("Get", "List", "BatchGet", "Count", "Summarize", "Explode", "Upsert")
#: Calls safe to repeat without a request_id: mutations the contract declares idempotent per key (the
#: order), the sessions' check (a read) and sign-out (ending an ended session changes nothing), and the
#: analytics fact import (a merge: the same facts again change nothing).
_IDEMPOTENT_METHODS = frozenset({"ReserveOrder", "CreateWorkOrders", "CheckSession", "SignOut", "ImportFacts"})
#: Failures after which a call that is safe to repeat is sent again.
RETRIED_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


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

    Only failures with a code in :data:`RETRIED_CODES` (UNAVAILABLE, CANCELLED) are retried, and only
    when ``retryable`` (the call is safe to repeat). Every attempt gets the time left of the overall
    ``deadline_s`` as its own deadline.
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
        except MesClientError as err:
            if not retryable or err.code not in RETRIED_CODES or number >= policy.max_attempts:
                raise
            delay = policy.backoff(number, random_unit())
            if clock() + delay >= give_up_at:
                raise
            await sleep(delay)
