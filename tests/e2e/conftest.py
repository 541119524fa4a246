"""`mes up` as a real process on free loopback ports, for end-to-end tests.

``run_stack(*args)`` starts ``python -m mes_stack up --data-dir <tmp> *args`` with every
port moved to a free one (environment variables), waits for the ready line and returns a
``RunningStack``; everything still running is interrupted (then killed) at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._infra.ci import service_unavailable
from tests._infra.nats import NATS_MISSING, find_nats_server
from tests.e2e._stack import RunningStack, stack_env, start_stack, stop_stack


@pytest.fixture
def run_stack(tmp_path: Path) -> Iterator[Callable[..., RunningStack]]:
    if find_nats_server() is None:
        service_unavailable(NATS_MISSING)
    stacks: list[RunningStack] = []

    def start(*args: str, env: dict[str, str] | None = None, wait_ready: bool = True) -> RunningStack:
        stack = start_stack(tmp_path / f"var{len(stacks)}", env or stack_env(), *args, wait_ready=wait_ready)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stop_stack(stack)
