"""Locust scenario: operators on the dashboard, against a running stack (``mes up``).

    locust -f perf/locustfile_operators.py --host http://127.0.0.1:8180 \\
        --headless --users 10 --spawn-rate 5 --run-time 1m --only-summary

Each user is an operator screen: the order board with counts (weight 6), an order's detail
(3), the work centers with their queues (2). ``MES_OPERATOR_TOKEN`` (default the development
token ``mes-dev-operator``) and ``MES_BOARD_SIZE`` (default 100) configure it. An answer with
GraphQL ``errors`` counts as a failure named by its error code.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from perf._locust_common import graphql_post, query

TOKEN = os.environ.get("MES_OPERATOR_TOKEN", "mes-dev-operator")
BOARD_SIZE = int(os.environ.get("MES_BOARD_SIZE", "100"))
DASHBOARD, DETAIL, CENTERS = query("dashboard"), query("order_detail"), query("work_centers")


class Operator(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {TOKEN}"
        self.order_ids: list[str] = []
        self.board()

    def _graphql(self, name: str, document: str, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        return graphql_post(self.client, name, document, operation, variables)

    @task(6)
    def board(self) -> None:
        answer = self._graphql("board", DASHBOARD, "Dashboard", {"first": BOARD_SIZE})
        edges = ((answer.get("data") or {}).get("orders") or {}).get("edges") or []
        if edges:
            self.order_ids = [edge["node"]["id"] for edge in edges]

    @task(3)
    def order_detail(self) -> None:
        if self.order_ids:
            self._graphql("order detail", DETAIL, "OrderDetail", {"id": random.choice(self.order_ids)})

    @task(2)
    def work_centers(self) -> None:
        self._graphql("work centers", CENTERS, "WorkCenters", {"first": 20, "queue": 10})
