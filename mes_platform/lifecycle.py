"""Process lifecycle: health follows dependencies; SIGTERM/SIGINT stop gracefully.

:class:`ShutdownSignals` turns the first SIGTERM/SIGINT into a request for a graceful stop
and a second one into "hurry": the waits of the graceful stop (the NOT_SERVING delay) are
cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from mes_platform.grpc_server import ServerHandle
from mes_platform.tasks import cancel_and_wait
from mes_platform.telemetry.logs import get_logger

__all__ = ["Closer", "HealthMonitor", "ShutdownSignals", "sleep_unless"]

_log = get_logger("mes.lifecycle")
Probe = Callable[[], Awaitable[bool]]


class HealthMonitor:
    """Sets the server SERVING while every probe passes, NOT_SERVING otherwise."""

    def __init__(self, handle: ServerHandle, probes: dict[str, Probe], interval_s: float = 2.0) -> None:
        self._handle = handle
        self._probes = probes
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.serving: bool | None = None
        self.failing: list[str] = []

    async def check_once(self) -> bool:
        results = await asyncio.gather(*(probe() for probe in self._probes.values()), return_exceptions=True)
        failing = [name for name, ok in zip(self._probes, results, strict=True) if ok is not True]
        ok = not failing
        if ok != self.serving:
            await self._handle.set_serving(ok)
            if ok:
                _log.info("health_serving")
            else:
                _log.warning("health_not_serving", failing=failing)
        self.serving, self.failing = ok, failing
        return ok

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.check_once()
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="health-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)


class Closer:
    """Closes resources in reverse order of opening."""

    def __init__(self) -> None:
        self._closers: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    def push(self, name: str, close: Callable[[], Awaitable[object]]) -> None:
        self._closers.append((name, close))

    async def aclose(self) -> None:
        while self._closers:
            name, close = self._closers.pop()
            try:
                await close()
            except Exception:
                _log.exception("close_failed", resource=name)


class ShutdownSignals:
    """SIGTERM/SIGINT handlers of a process: the first signal sets :attr:`requested`, any
    later one :attr:`hurry` (skip the remaining waits of the graceful stop)."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: int) -> None:
        if self.requested.is_set():
            _log.warning("shutdown_hurried", signal=signal.Signals(sig).name)
            self.hurry.set()
        else:
            _log.info("shutdown_signal", signal=signal.Signals(sig).name)
            self.requested.set()

    async def wait(self) -> None:
        await self.requested.wait()


async def sleep_unless(seconds: float, event: asyncio.Event | None) -> None:
    """Sleep ``seconds``, or less when ``event`` gets set meanwhile."""
    if seconds <= 0 or (event is not None and event.is_set()):
        return
    if event is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
