"""Locust scenario: a partner's system on gRPC (``SubmitOrder`` and ``GetOrder``), against ``mes up``.

    MES_DATA_DIR=var locust -f perf/locustfile_grpc.py --host 127.0.0.1:50151 \\
        --headless --users 8 --spawn-rate 4 --run-time 1m --only-summary

Locust runs users as gevent greenlets, so gRPC is switched to gevent first
(``grpc.experimental.gevent.init_gevent()``); without it every call blocks the whole process
and users run one at a time. Credentials: a partner key (``MES_API_KEY`` or the demo file in
``MES_DATA_DIR``) sent as ``x-api-key``; or, with ``MES_PARTNER`` set, the staff token
``MES_TOKEN`` (default ``mes-dev-token``) acting for that partner. Each submit carries a fresh
``request_id`` (idempotency key); each user polls the orders it submitted.
"""

from __future__ import annotations

import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()

import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import grpc  # noqa: E402
from google.protobuf.message import Message  # noqa: E402
from locust import User, between, task  # noqa: E402

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT), str(_ROOT / "protos" / "gen")]
from mes.common.v1 import common_pb2  # noqa: E402
from mes.orders.v1 import orders_pb2, orders_pb2_grpc  # noqa: E402
from perf._locust_common import partner_keys  # noqa: E402

_PARTNER = os.environ.get("MES_PARTNER", "").strip()
_TOKEN = os.environ.get("MES_TOKEN", "mes-dev-token")
_KEYS = itertools.cycle([""] if _PARTNER else partner_keys())


class GrpcPartner(User):
    wait_time = between(0.5, 1.5)
    host = "127.0.0.1:50151"

    def on_start(self) -> None:
        target = (self.host or "127.0.0.1:50151").removeprefix("http://").removeprefix("grpc://")
        self.channel = grpc.insecure_channel(target)
        self.stub = orders_pb2_grpc.OrdersServiceStub(self.channel)
        key = next(_KEYS)
        self.metadata: tuple[tuple[str, str], ...] = (
            (("x-api-key", key),) if key else (("authorization", f"Bearer {_TOKEN}"),)
        )
        self.parent = f"partners/{_PARTNER}" if _PARTNER else ""
        self.order_names: list[str] = []

    def on_stop(self) -> None:
        self.channel.close()

    def _call(self, name: str, method: Callable[..., Any], request: Message) -> Any:
        started = time.perf_counter()
        response: Any = None
        error: Exception | None = None
        try:
            response = method(request, metadata=self.metadata, timeout=10.0)
        except grpc.RpcError as exc:
            error = exc
        self.environment.events.request.fire(
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=response.ByteSize() if response is not None else 0,
            exception=error,
            context={},
        )
        return response

    @task(3)
    def submit_order(self) -> None:
        key = uuid.uuid4().hex
        request = orders_pb2.SubmitOrderRequest(
            parent=self.parent,
            partner_reference=f"LOCUST-G-{key[:12]}",
            priority=common_pb2.PRIORITY_NORMAL,
            request_id=key,
            lines=[orders_pb2.OrderLine(line_number=1, style_code="PND-HRT-001", alloy_code="AU585Y", quantity=1)],
        )
        request.due_time.FromSeconds(1_924_992_000)  # 2031-01-01T00:00:00Z
        response = self._call("SubmitOrder", self.stub.SubmitOrder, request)
        if response is not None:
            self.order_names.append(response.order.name)
            del self.order_names[:-50]

    @task(5)
    def get_order(self) -> None:
        if self.order_names:
            request = orders_pb2.GetOrderRequest(name=random.choice(self.order_names))
            self._call("GetOrder", self.stub.GetOrder, request)
