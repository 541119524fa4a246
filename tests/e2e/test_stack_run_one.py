"""`mes run`: one process as `mes up` runs it, printed first; against a running stack it takes the
process over (the stack goes on, and stops it with the rest); without a stack, processes one by one."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from mes_stack.state import RUN_LOG, read_handover
from tests._infra.ports import pid_alive
from tests.e2e._stack import RunningStack, run_module, spawn_mes, stack_env, wait_gone

SECRET = "page-secret-of-the-stack"


@dataclass
class MesRun:
    """A ``mes run`` subprocess whose output is read as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.5)  # the rest of the output
                pytest.fail(f"mes run never printed {text!r} (exit {self.proc.poll()}):\n{self.output}")
            time.sleep(0.1)

    def exit_code(self, timeout: float = 30.0) -> int:
        """Wait for the exit, read the rest of the output and close the pipe."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.exit_code(timeout)


def start_mes_run(env: dict[str, str], *args: str) -> MesRun:
    """``mes run *args`` with ``env``, its output read as it comes (stop it with ``stop()``)."""
    run = MesRun(spawn_mes(env, "run", *args))
    run.reader = threading.Thread(target=run.pump, daemon=True)
    run.reader.start()
    return run


@pytest.fixture
def mes_run() -> Iterator[Callable[..., MesRun]]:
    started: list[MesRun] = []

    def start(env: dict[str, str], *args: str) -> MesRun:
        run = start_mes_run(env, *args)
        started.append(run)
        return run

    yield start
    for run in reversed(started):
        run.stop()


def _serving(address: str, service: str = "") -> bool:
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        try:
            reply = check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_mes_run_takes_one_process_over_from_a_running_stack(
    run_stack: Callable[..., RunningStack], mes_run: Callable[..., MesRun]
) -> None:
    env = {**stack_env(), "MES_PAGE_TOKEN_SECRET": SECRET}
    stack = run_stack("--no-demo", "--no-facade", env=env)
    before = {p.name: p for p in stack.state().processes}
    address = stack.state().addresses["orders"][0]
    shell = stack_env()  # another shell: other ports, no secret; the stack's own settings must win

    first = mes_run(shell, "orders:api", "--data-dir", str(stack.data_dir))
    first.wait_for(f"mes run: orders is ready at {address}")
    printed = first.output
    assert f"settings of the stack running in {stack.data_dir}, mes up pid {stack.proc.pid}" in printed
    assert f"MES_ORDERS_GRPC_PORT={address.rsplit(':', 1)[1]}" in printed
    assert "MES_ORDERS_ROLE=api" in printed
    assert "MES_PAGE_TOKEN_SECRET=***" in printed and SECRET not in printed
    assert f"stopping orders (pid {before['orders'].pid}, started by mes up)" in printed
    assert wait_gone([before["orders"].pid]) == []
    assert _serving(address, "mes.orders.v1.OrdersService")

    # The stack goes on; stack.json and the handover marker name the `mes run` process.
    deadline = time.monotonic() + 10
    while "was handed over to `mes run`" not in stack.output and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"mes: orders (pid {before['orders'].pid}) was handed over to `mes run` (pid {first.proc.pid})" in (
        stack.output
    )
    assert stack.proc.poll() is None
    orders = next(p for p in stack.state().processes if p.name == "orders")
    assert (orders.pid, orders.log) == (first.proc.pid, RUN_LOG)
    assert read_handover(stack.data_dir, "orders") == first.proc.pid

    # Asking again restarts it: the previous `mes run` is stopped, the new one takes its place.
    second = mes_run(shell, "orders:api", "--data-dir", str(stack.data_dir))
    second.wait_for(f"mes run: orders is ready at {address}")
    assert f"stopping orders (pid {first.proc.pid}, started by `mes run`)" in second.output
    assert first.exit_code() == 0 and "mes run: orders exited with code 0" in first.output
    assert read_handover(stack.data_dir, "orders") == second.proc.pid

    # A stack option on the command line of a running stack is refused: its settings are used.
    refused = run_module(
        "mes_stack", "run", "orders:api", "--replicas", "2", "--data-dir", str(stack.data_dir), env=shell, timeout=30
    )
    assert refused.returncode == 2 and "its settings are used, leave out --replicas" in refused.stderr

    # Ctrl-C on the stack stops the process `mes run` took over with the others.
    pids = [p.pid for p in stack.state().processes if p.name != "orders"]
    assert stack.interrupt() == 0, stack.output
    assert second.exit_code() == 0, second.output
    assert f"stopping orders (`mes run`, pid {second.proc.pid})" in stack.output
    assert wait_gone(pids) == []


def test_mes_run_starts_processes_one_at_a_time_without_a_stack(tmp_path: Path, mes_run: Callable[..., MesRun]) -> None:
    env = stack_env()
    data = str(tmp_path / "var")
    nats = mes_run(env, "nats", "--data-dir", data)
    nats.wait_for(f"mes run: nats is ready at nats://127.0.0.1:{env['MES_STACK_NATS_PORT']}")
    assert "no stack runs in" in nats.output and "--jetstream" in nats.output

    production = mes_run(env, "production", "--data-dir", data)  # every role in one process
    address = f"127.0.0.1:{env['MES_PRODUCTION_GRPC_PORT']}"
    production.wait_for(f"mes run: production is ready at {address}")
    assert "MES_PRODUCTION_ROLE" not in production.output  # one process: all roles
    assert f"MES_PRODUCTION_DATABASE_URL=sqlite:///{data}/production.db" in production.output
    assert _serving(address, "mes.production.v1.ProductionService")

    # The same process again while the first holds its port: refused, naming the variable.
    again = mes_run(env, "production", "--data-dir", data)
    assert again.exit_code() == 1
    assert "set MES_PRODUCTION_GRPC_PORT to a free port" in again.output

    pid = production.proc.pid
    assert production.stop() == 0, production.output
    assert not pid_alive(pid)
    assert nats.stop() == 0, nats.output
    assert not os.path.exists(os.path.join(data, "stack.json"))
