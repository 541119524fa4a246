"""The supervisor of `mes up` with real child processes (small HTTP servers on free loopback ports):
a restartable child (a node of a NATS cluster) that dies is started again on the same spec while the
others keep running; one that cannot be restarted, and any other child, stops the watch; a graceful
stop sends each spec's own signal."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from mes_stack.plan import HttpProbe, PortClaim, ProcessSpec
from mes_stack.supervisor import RESTART_ATTEMPTS, Supervisor
from tests._infra.ports import free_ports

#: Liveness bound for the watch to notice an exit and restart (a loaded machine).
BOUND_S = 60.0


#: The child: a small HTTP server that exits 0 on SIGINT by its own handler (Python's default one is not
#: installed when the child starts with SIGINT ignored, as under a shell without job control) and dies
#: of SIGTERM.
_SERVE = (
    "import functools, http.server, signal, sys\n"
    "signal.signal(signal.SIGINT, lambda *_: sys.exit(0))\n"
    "handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])\n"
    "http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), handler).serve_forever()\n"
)


def _spec(tmp_path: Path, name: str, port: int, *, restart: bool = False, stop: int = signal.SIGTERM) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        role="nats" if restart else "service",
        argv=(sys.executable, "-c", _SERVE, str(port), str(tmp_path)),
        env=dict(os.environ),
        host="127.0.0.1",
        port=port,
        claims=(PortClaim("127.0.0.1", port, "PORT", name),),
        probe=HttpProbe(port, "/"),
        log_path=tmp_path / "logs" / f"{name}.log",
        stop_signal=stop,
        restart=restart,
    )


def _supervisor(said: list[str], restarted: asyncio.Event | None = None) -> Supervisor:
    return Supervisor(
        start_timeout_s=BOUND_S,
        stop_timeout_s=10,
        say=said.append,
        on_restart=restarted.set if restarted is not None else None,
        restart_backoff_s=0.01,
    )


async def test_a_restartable_child_is_restarted_and_another_child_still_stops_the_watch(tmp_path: Path) -> None:
    node_port, other_port = free_ports(2)
    said: list[str] = []
    restarted = asyncio.Event()
    sup = _supervisor(said, restarted)
    node, other = _spec(tmp_path, "nats-2", node_port, restart=True), _spec(tmp_path, "orders", other_port)
    await sup.start_group([node, other])
    watch = asyncio.ensure_future(sup.wait_for_unexpected_exit())
    try:
        first = sup.children[0]
        os.kill(first.pid, signal.SIGKILL)
        async with asyncio.timeout(BOUND_S):
            await restarted.wait()
        again = sup.children[0]
        assert again.name == "nats-2" and again.pid != first.pid and again.returncode is None
        assert sup.restarts == {"nats-2": 1} and not watch.done()
        assert any("nats-2 (pid" in line and "restarting it" in line for line in said), said
        assert any(line.startswith("mes: nats-2 restarted (pid") for line in said), said
        assert [c.name for c in sup.children] == ["nats-2", "orders"]  # replaced in place

        os.kill(sup.children[1].pid, signal.SIGKILL)
        async with asyncio.timeout(BOUND_S):
            exited = await watch
        assert exited.name == "orders" and exited.returncode == -signal.SIGKILL
        assert again.returncode is None  # the restarted node is still running
    finally:
        watch.cancel()
        await sup.stop_all()
    assert all(c.returncode is not None for c in sup.children)


async def test_a_child_that_cannot_be_restarted_stops_the_watch_after_bounded_tries(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    said: list[str] = []
    sup = _supervisor(said)
    await sup.start_group([_spec(tmp_path, "nats-1", port, restart=True)])
    watch = asyncio.ensure_future(sup.wait_for_unexpected_exit())
    blocker = socket.socket()
    try:
        first = sup.children[0]
        os.kill(first.pid, signal.SIGKILL)
        await first.process.wait()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))  # every restart now exits: address in use
        blocker.listen()
        async with asyncio.timeout(BOUND_S * 2):
            exited = await watch
        assert exited is first
        failures = [line for line in said if "nats-1: restart" in line and "failed" in line]
        assert len(failures) == RESTART_ATTEMPTS, said
        assert f"mes: nats-1 could not be restarted in {RESTART_ATTEMPTS} attempts" in said
    finally:
        blocker.close()
        watch.cancel()
        await sup.stop_all()


async def test_a_graceful_stop_sends_the_specs_own_signal(tmp_path: Path) -> None:
    by_int, by_term = free_ports(2)
    sup = _supervisor([])
    await sup.start_group([_spec(tmp_path, "pg", by_int, stop=signal.SIGINT), _spec(tmp_path, "svc", by_term)])
    await sup.stop_all()
    codes = {c.name: c.returncode for c in sup.children}
    # the child ends cleanly on SIGINT (its handler); SIGTERM kills it
    assert codes == {"pg": 0, "svc": -signal.SIGTERM}
