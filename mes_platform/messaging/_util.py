"""Small helpers shared by the messaging modules."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["EVENT_POSITION_HEADER", "MSG_ID_HEADER", "decode_headers", "encode_headers", "sleep_or_event"]

MSG_ID_HEADER = "Nats-Msg-Id"
#: Header of an event whose service reads on a replica (an LSN as text, as the gRPC ``x-mes-commit-lsn``):
#: a writer position at or past the commit of the transaction that wrote the event (the relay's read of
#: the flush location once it saw the row). A reader that must see what the event says happened sends
#: it as its minimum position, ``x-mes-min-lsn`` (the facade's live feeds do).
EVENT_POSITION_HEADER = "Mes-Commit-Lsn"


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
