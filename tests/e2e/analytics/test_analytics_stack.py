"""The analytics under `mes up` (real processes on free loopback ports): the demo history is imported
before the stack says it is ready, an order submitted live reaches the partner analytics through
the event streams, and `mesctl analytics rebuild --keep-imported --from-services` keeps the history
and counts the live order once."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mes_stack.demo_history import generate_history, history_end
from tests.e2e._stack import RunningStack

#: Liveness bound for the saga and the analytics worker to apply a live order (no timing claim).
APPLY_WITHIN_S = 60.0


def mesctl(stack: RunningStack, *args: str, timeout: float = 60.0) -> Any:
    result = stack.run(sys.executable, "-m", "clients.cli", "--output", "json", *args, timeout=timeout)
    assert result.returncode == 0, f"mesctl {' '.join(args)} exited {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def live_volume(stack: RunningStack, since: datetime) -> int:
    """aurora-jewels' accepted orders submitted since ``since`` (the history ends there)."""
    until = datetime.now(UTC) + timedelta(days=1)
    answer = mesctl(
        stack,
        *("analytics", "partners", "--partner-id", "aurora-jewels", "--grain", "day"),
        *("--from", since.isoformat(), "--to", until.isoformat()),
    )
    return sum(int(bucket["orders"]) for bucket in answer["volume"] if bucket["partner_id"] == "aurora-jewels")


def wait_for_volume(stack: RunningStack, since: datetime, orders: int) -> None:
    deadline = time.monotonic() + APPLY_WITHIN_S
    while (seen := live_volume(stack, since)) != orders:
        assert time.monotonic() < deadline, f"live volume {seen}, expected {orders}\n{stack.output}"
        time.sleep(0.5)


def test_the_stack_serves_the_demo_history_and_the_live_orders(run_stack: Callable[..., RunningStack]) -> None:
    started = datetime.now(UTC)
    stack = run_stack()
    since = history_end(started)
    history = generate_history(42, end=since)
    assert "demo history: 42 days" in stack.output and "mesctl analytics status" in stack.output

    status = mesctl(stack, "analytics", "status")
    assert int(status["imported_orders"]) == len(history.orders) > 0
    assert int(status["imported_operations"]) == len(history.operations)
    text = stack.run(sys.executable, "-m", "clients.cli", "analytics", "status")
    assert text.returncode == 0 and ["imported:", str(len(history.orders))] in [
        x.split() for x in text.stdout.splitlines()
    ]
    assert live_volume(stack, since) == 0

    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    mesctl(
        stack,
        *("orders", "submit", "--parent", "aurora-jewels", "--reference", "E2E-ANALYTICS-1", "--due", due),
        *("--line", "RNG-SOL-001:AU750Y:2:52", "--request-id", "e2e-analytics-1"),
    )
    wait_for_volume(stack, since, 1)

    rebuilt = stack.run(
        sys.executable,
        *("-m", "clients.cli", "analytics", "rebuild", "--keep-imported", "--from-services"),
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("rebuilt; imported 1 orders")
    assert int(mesctl(stack, "analytics", "status")["imported_orders"]) == len(history.orders) + 1
    wait_for_volume(stack, since, 1)  # the live order once, from the replayed stream and the import

    bad = stack.run(sys.executable, "-m", "clients.cli", "analytics", "flow", "--grain", "hour", "--from", "2020-01-01")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr  # more than 400 buckets
    assert stack.interrupt() == 0, stack.output
