"""Background tasks of a service process (probes, pollers, sweepers): each is stopped the same
way, by cancelling it and waiting until it has ended, so that nothing runs on after ``stop``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (None: nothing to do) and wait until it has ended; its cancellation is
    not raised to the caller."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
