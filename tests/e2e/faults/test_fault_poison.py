"""Poison messages among ~200 orders: they end in the dead letters, the rest completes.

Two messages are published by hand on consumed subjects, each with a new ``Nats-Msg-Id``:

* garbage bytes on ``orders.order.submitted``: no protobuf, no event id -- the production
  consumer can never decode it and dead-letters it at once (retrying cannot help);
* a well-formed ``production.requirements.computed`` for an unknown order without any
  requirement: it decodes, but inventory's handler rejects it on every delivery, so it is
  redelivered with back-off and dead-lettered after ``max_deliver`` (4 here) deliveries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from mes.common.v1 import common_pb2
from mes.production.v1 import production_events_pb2
from mes_contracts.events import ORDER_SUBMITTED, REQUIREMENTS_COMPUTED
from mes_platform.provision import SERVICES
from tests._infra.nats import NatsServer
from tests._infra.postgres import PostgresAdmin
from tests.e2e.faults._jetstream import publish_poison
from tests.e2e.faults._report import Report
from tests.e2e.faults._run import TARGETED_BUDGET_S, TARGETED_QUIESCE_S, TARGETED_TIMEOUT_S, FaultRun, open_run

ORDERS = 200
MAX_DELIVER = 4
GARBAGE = ("production-order-events", ORDER_SUBMITTED.subject)
FAILING = ("inventory-production-events", REQUIREMENTS_COMPUTED.subject)


async def poison(run: FaultRun) -> None:
    await run.wait_progress(0.3)
    await publish_poison(run.nats, GARBAGE[1])
    event_id = str(uuid.uuid4())
    event = production_events_pb2.RequirementsComputedEvent(
        meta=common_pb2.EventMeta(event_id=event_id, producer="production"),
        order_id=f"poison-{uuid.uuid4().hex[:12]}",
        priority=common_pb2.PRIORITY_NORMAL,
    )
    await run.nats.js.publish(FAILING[1], event.SerializeToString(), headers={"Nats-Msg-Id": event_id}, timeout=5)
    run.note("published 2 poison messages")


async def test_poison_messages_end_in_dead_letters_while_the_rest_completes(
    postgres_admin: PostgresAdmin,
    fault_nats: NatsServer,
    fault_logs: Path,
    fault_report: Callable[[Report], None],
) -> None:
    env = {service: {f"MES_{service.upper()}_CONSUMER_MAX_DELIVER": str(MAX_DELIVER)} for service in SERVICES}

    async def body() -> tuple[Report, int, str]:
        async with open_run(
            "poison", admin=postgres_admin, nats_server=fault_nats, log_dir=fault_logs, orders=ORDERS, env=env
        ) as run:
            await run.submit_with(poison, budget_s=TARGETED_BUDGET_S)
            report = await run.finish(quiesce_timeout_s=TARGETED_QUIESCE_S)
            return report, run.tap.redeliveries_of(FAILING[0]), run.stack.logs(8)

    report, redelivered, logs = await asyncio.wait_for(body(), timeout=TARGETED_TIMEOUT_S)
    fault_report(report)
    problem = f"{report.explain()}\ndead letters: {report.dead_letter_rows}\n{logs}"
    letters = {(consumer, subject): deliveries for consumer, subject, deliveries, _ in report.dead_letter_rows}
    assert report.dead_letters == 2 and set(letters) == {GARBAGE, FAILING}, problem
    assert letters[GARBAGE] == 1, problem  # undecodable: no point in redelivering it
    assert letters[FAILING] == MAX_DELIVER, problem
    assert redelivered >= MAX_DELIVER - 1, problem
    assert not (broken := report.broken(ORDERS, dead_letters=2)), f"violated: {broken}\n{problem}"
