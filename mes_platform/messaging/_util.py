"""Small helpers shared by the messaging modules."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["MSG_ID_HEADER", "decode_headers", "encode_headers", "sleep_or_event"]

MSG_ID_HEADER = "Nats-Msg-Id"


def decode_headers(text: str | None) -> dict[str, str]:
    """The outbox/dead-letter ``headers`` column (JSON object) as NATS header strings."""
    if not text:
        return {}
    try:
        data: Any = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def encode_headers(headers: Mapping[str, str] | None) -> str:
    return json.dumps(dict(headers or {}), sort_keys=True)


async def sleep_or_event(event: asyncio.Event, timeout: float) -> bool:
    """Sleep up to ``timeout`` seconds; return early (True) when ``event`` is set."""
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))
        return True
    return False
