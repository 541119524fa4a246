"""What the analytics integration tests share: credentials, fast knobs, the running service, and
facts and windows made for the API tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from mes.analytics.v1 import analytics_pb2 as pb
from services.analytics.bootstrap import App

__all__ = ["AUTH_TOKENS", "FAST", "PARTNER", "STAFF", "Running", "T", "acting", "ts", "window"]

T = 20.0
AUTH_TOKENS = "an-svc=service:tools,an-op=operator:SUP-01"
STAFF = (("authorization", "Bearer an-op"),)
SERVICE = (("authorization", "Bearer an-svc"),)
PARTNER = "acme"
#: Quick fetches, acknowledgements and retries.
FAST = {
    "MES_ANALYTICS_CONSUMER_ACK_WAIT_S": "5",
    "MES_ANALYTICS_CONSUMER_FETCH_TIMEOUT_S": "0.3",
    "MES_ANALYTICS_CONSUMER_BACKOFF_S": "0.1,0.3",
    "MES_SHUTDOWN_GRACE_S": "1",
}


def acting(partner: str) -> tuple[tuple[str, str], ...]:
    """Metadata of the facade acting for a partner."""
    return (*SERVICE, ("x-mes-partner", partner))


def ts(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def window(start: datetime, end: datetime, grain: Any = pb.GRAIN_DAY) -> pb.Window:
    return pb.Window(from_time=ts(start), to_time=ts(end), grain=grain)


class Running:
    """The service with its consumers, and a stub to call it."""

    def __init__(self, service: App, stub: Any) -> None:
        self.service = service
        self.stub = stub
