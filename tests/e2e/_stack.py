"""Helpers for end-to-end tests of `mes up`: the stack process, its output and its children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mes_stack.state import StackState, read_state
from mes_stack.summary import READY_LINE
from tests._infra.ports import free_ports, pid_alive

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
#: Variables of the developer's shell that would point the stack elsewhere.
_DROP_PREFIXES = ("MES_",)
_DROP = {"NATS_URL", "DATABASE_URL", "DATABASE_READ_URL", "REDIS_URL"}


@dataclass
class RunningStack:
    proc: subprocess.Popen[str]
    data_dir: Path
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def start_reader(self) -> None:
        self.reader = threading.Thread(target=pump, args=(self,), daemon=True)
        self.reader.start()

    def close_output(self) -> None:
        """After the process exited: read the rest of its output and close the pipe."""
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.proc.stdout is not None and (self.reader is None or not self.reader.is_alive()):
            self.proc.stdout.close()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def state(self) -> StackState:
        state = read_state(self.data_dir)
        assert state is not None, f"no stack.json in {self.data_dir}\n{self.output}"
        return state

    def address(self, service: str) -> str:
        return self.env[f"MES_{service.upper()}_ADDR"]

    def child_pids(self) -> list[int]:
        return [p.pid for p in self.state().processes]

    def wait_exit(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"mes did not exit within {timeout:.0f} s\n{self.output}", pytrace=False)
        self.close_output()
        return code

    def interrupt(self, timeout: float = 45.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.wait_exit(timeout)

    def run(self, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run another command with the stack's environment (mes demo-data, mesctl...)."""
        return subprocess.run(
            list(argv), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )


def eventually(what: str, probe: Callable[[], Any], ok: Callable[[Any], bool], timeout_s: float = 60.0) -> Any:
    """``probe()`` until ``ok`` holds, its value returned: a liveness bound (a cluster elects its
    leaders, catches a peer up and the processes connect in their own time, slower on a loaded
    machine). A probe that raises counts as not yet; the last value or error is in the failure."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = probe()
        except Exception as exc:
            value = exc
        if not isinstance(value, Exception) and ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {value!r}")
        time.sleep(0.5)


def run_module(
    module: str, *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> *args`` with ``env`` until it exits, its output captured as text."""
    argv = [sys.executable, "-m", module, *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def spawn_mes(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``mes *args`` with ``env``, its output and errors in one text pipe for the caller to read."""
    return subprocess.Popen(
        [sys.executable, "-m", "mes_stack", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_stack(data_dir: Path, env: dict[str, str], *args: str, wait_ready: bool = True) -> RunningStack:
    """``mes up --data-dir <data_dir> *args`` with ``env``, its output read as it comes; unless
    ``wait_ready`` is false, fails the test (stopping it) when it is not ready in time."""
    proc = spawn_mes(env, "up", "--data-dir", str(data_dir), *args)
    stack = RunningStack(proc, data_dir, env)
    stack.start_reader()
    deadline = time.monotonic() + START_TIMEOUT_S
    while wait_ready and not stack.ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_stack(stack)
            pytest.fail(f"mes up did not become ready (exit code {proc.poll()}):\n{stack.output}")
    return stack


def stop_stack(stack: RunningStack) -> None:
    """Ctrl-C, then make sure no child is left (SIGKILL by PID as a last resort)."""
    pids = [p.pid for p in (read_state(stack.data_dir) or StackState(0, "", {}, [])).processes]
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGINT)
        try:
            stack.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.proc.kill()
            stack.proc.wait(timeout=10)
    for pid in wait_gone(pids, timeout=5):
        os.kill(pid, signal.SIGKILL)
    stack.close_output()


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if pid_alive(pid)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def stack_env() -> dict[str, str]:
    """The current environment without MES_*/URL settings, every port moved to a free one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP}
    orders, inventory, production, webhooks, analytics, nats, monitor, facade, facade_metrics, *workers = free_ports(14)
    env.update(
        {
            "MES_ORDERS_GRPC_PORT": str(orders),
            "MES_INVENTORY_GRPC_PORT": str(inventory),
            "MES_PRODUCTION_GRPC_PORT": str(production),
            "MES_WEBHOOKS_GRPC_PORT": str(webhooks),
            "MES_ANALYTICS_GRPC_PORT": str(analytics),
            # the services' workers (gRPC health only)
            "MES_ORDERS_WORKER_PORT": str(workers[0]),
            "MES_INVENTORY_WORKER_PORT": str(workers[1]),
            "MES_PRODUCTION_WORKER_PORT": str(workers[2]),
            "MES_WEBHOOKS_WORKER_PORT": str(workers[3]),
            "MES_ANALYTICS_WORKER_PORT": str(workers[4]),
            "MES_STACK_NATS_PORT": str(nats),
            "MES_STACK_NATS_MONITOR_PORT": str(monitor),
            "MES_FACADE_PORT": str(facade),
            "MES_FACADE_METRICS_PORT": str(facade_metrics),  # its /metrics, apart from the public port
            # what clients (mesctl) read
            "MES_ORDERS_ADDR": f"127.0.0.1:{orders}",
            "MES_INVENTORY_ADDR": f"127.0.0.1:{inventory}",
            "MES_PRODUCTION_ADDR": f"127.0.0.1:{production}",
            "MES_WEBHOOKS_ADDR": f"127.0.0.1:{webhooks}",
            "MES_ANALYTICS_ADDR": f"127.0.0.1:{analytics}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")]),
        }
    )
    return env


def pump(stack: RunningStack) -> None:
    assert stack.proc.stdout is not None
    for raw in stack.proc.stdout:
        line = raw.rstrip("\n")
        stack.lines.append(line)
        if line == READY_LINE:
            stack.ready.set()
