"""Loopback ports and child-process helpers shared by the test servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from mes_stack.supervisor import pid_alive  # one definition, the stack supervisor's

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct free ports (all sockets are held open until every port is chosen)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str = "condition",
    abort: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``predicate`` until it is true; ``abort`` may return an error text to stop early."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if abort is not None:
            reason = abort()
            if reason is not None:
                raise RuntimeError(f"{message}: {reason}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message}: not reached within {timeout:.1f}s")
        time.sleep(interval)


def signal_pid(pid: int, sig: int) -> bool:
    """Send ``sig`` to ``pid``; False if the process is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_process(
    proc: subprocess.Popen[bytes] | None,
    pid: int | None = None,
    *,
    sig: int = signal.SIGTERM,
    timeout: float = 10.0,
) -> None:
    """Stop a server by PID: ``sig`` first, SIGKILL after ``timeout`` seconds.

    ``proc`` is our child (reaped here); ``pid`` may name a different process (for
    example the postmaster read from ``postmaster.pid``). Defaults to ``proc.pid``.
    """
    target = pid if pid is not None else (proc.pid if proc is not None else None)
    if target is None:
        return

    def gone() -> bool:
        if proc is not None and target == proc.pid:
            return proc.poll() is not None
        return not pid_alive(target)

    if not gone():
        signal_pid(target, sig)
        try:
            wait_until(gone, timeout=timeout, message=f"process {target} exit")
        except TimeoutError:
            signal_pid(target, signal.SIGKILL)
            wait_until(gone, timeout=10.0, message=f"process {target} exit after SIGKILL")
    if proc is not None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10.0)


def log_tail(path: Path, lines: int = 30) -> str:
    """Last ``lines`` lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
