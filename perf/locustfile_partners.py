"""Locust scenario: partners' systems on the GraphQL API, against a running stack (``mes up``).

    MES_DATA_DIR=var locust -f perf/locustfile_partners.py --host http://127.0.0.1:8180 \\
        --headless --users 4 --spawn-rate 2 --run-time 1m --only-summary

Users take the demo partners' keys in turn (``<MES_DATA_DIR>/demo-partners.json``, or
``MES_API_KEY=key1,key2``). Tasks: submit an order with a fresh idempotency key (weight 2;
one in ten replays the previous key and input and expects ``replayed: true``), poll the
status of an order it submitted (5), list its latest orders (2), read the catalogue (1).
A partner that is throttled (HTTP 429, ``THROTTLED`` or ``RATE_LIMITED``) records a failure
named by the code and waits ``Retry-After`` (at most 10 s), as a well-behaved client does.
"""

from __future__ import annotations

import itertools
import random
import sys
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from perf._locust_common import graphql_post, partner_keys, query

SUBMIT, STATUS, ORDERS, CATALOGUE = (
    query("submit_order"),
    query("order_status"),
    query("partner_orders"),
    query("catalogue"),
)
_KEYS = itertools.cycle(partner_keys())
_ORDER = {
    "dueTime": "2031-01-01T00:00:00Z",
    "priority": "NORMAL",
    "lines": [{"styleCode": "PND-HRT-001", "alloyCode": "AU585Y", "quantity": 1}],
}


class Partner(HttpUser):
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        self.client.headers["X-API-Key"] = next(_KEYS)
        self.order_ids: list[str] = []
        self.last: tuple[str, dict[str, Any]] | None = None

    def _graphql(self, name: str, document: str, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        return graphql_post(self.client, name, document, operation, variables, throttled_waits=True)

    @task(2)
    def submit_order(self) -> None:
        if self.last is not None and random.random() < 0.1:
            key, order = self.last
            name = "submitOrder (replay)"
        else:
            key = uuid.uuid4().hex
            order = {**_ORDER, "partnerReference": f"LOCUST-{key[:12]}"}
            name = "submitOrder"
        answer = self._graphql(name, SUBMIT, "SubmitOrder", {"input": order, "key": key})
        payload = (answer.get("data") or {}).get("submitOrder")
        if payload:
            self.last = (key, order)
            if name == "submitOrder":
                self.order_ids.append(payload["order"]["id"])
                del self.order_ids[:-50]

    @task(5)
    def order_status(self) -> None:
        if self.order_ids:
            self._graphql("order status", STATUS, "OrderStatus", {"id": random.choice(self.order_ids)})

    @task(2)
    def latest_orders(self) -> None:
        self._graphql("orders", ORDERS, "PartnerOrders", {"first": 20})

    @task(1)
    def catalogue(self) -> None:
        self._graphql("catalogue", CATALOGUE, "Catalogue", {})
