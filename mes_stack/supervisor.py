"""Child processes of ``mes up``: spawn with logs to files, wait for readiness, notice
exits, stop in order (SIGTERM, then SIGKILL after the grace period).

Children run in their own session so a Ctrl-C in the terminal reaches only ``mes``,
which then stops them in order. On Linux each child also gets SIGTERM when ``mes``
dies (PR_SET_PDEATHSIG), so a killed ``mes`` leaves nothing behind. A spec's ``nice``
is added to its process's niceness before it starts (the workers').

A child may be *handed over* to ``mes run`` (``handover(name)`` then returns the PID of the
``mes run`` that replaces it): its exit is then expected, and on stop its replacement gets
SIGTERM in the child's stop group (SIGKILL after the grace period), if it still runs ``mes run``.

A child whose spec says ``restart`` (a node of a NATS cluster) that exits unexpectedly does not stop
the stack: it is started again from the same spec (same ports, same store) after a back-off
(``RESTART_BACKOFF_S``, doubling up to ``RESTART_BACKOFF_MAX_S``) until it is ready, at most
``RESTART_ATTEMPTS`` tries for one exit and ``RESTART_LIMIT`` restarts within ``RESTART_WINDOW_S``;
past either bound its exit stops the stack like any other. A spec's ``stop_signal`` is what a
graceful stop sends (PostgreSQL: SIGINT).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mes_stack.health import Prober
from mes_stack.plan import ProcessSpec
from mes_stack.state import looks_like_mes, pid_alive

__all__ = [
    "RESTART_ATTEMPTS",
    "RESTART_LIMIT",
    "Child",
    "StartupError",
    "Supervisor",
    "child_preexec",
    "log_tail",
    "pid_alive",
]

_PR_SET_PDEATHSIG = 1
#: Tries to bring a restartable child back after one exit, the first after this back-off (doubling).
RESTART_ATTEMPTS = 5
RESTART_BACKOFF_S = 0.5
RESTART_BACKOFF_MAX_S = 8.0
#: More restarts of one process than this within the window is a crash loop: the stack stops.
RESTART_LIMIT = 5
RESTART_WINDOW_S = 600.0


class StartupError(RuntimeError):
    """A process exited or did not become ready; the message carries its log tail."""


def log_tail(path: Path, *, offset: int = 0, lines: int = 25) -> str:
    """The last ``lines`` lines written to ``path`` after ``offset``."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "    (no log file)"
    tail = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "    (empty log)"


@dataclass
class Child:
    spec: ProcessSpec
    process: asyncio.subprocess.Process
    log_offset: int
    stopping: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def tail(self, lines: int = 25) -> str:
        return log_tail(self.spec.log_path, offset=self.log_offset, lines=lines)


def _death_signal_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


def child_preexec(spec: ProcessSpec, death: Callable[[], None] | None = None) -> Callable[[], None] | None:
    """The death-signal hook (made here when not given), plus ``os.nice(spec.nice)`` when the spec
    asks for it: what runs in a child before its program."""
    death = death if death is not None else _death_signal_hook()
    if not spec.nice or not hasattr(os, "nice"):
        return death

    def hook() -> None:
        if death is not None:
            death()
        os.nice(spec.nice)

    return hook


class Supervisor:
    def __init__(
        self,
        *,
        start_timeout_s: float,
        stop_timeout_s: float,
        say: Callable[[str], None],
        handover: Callable[[str], int | None] | None = None,
        on_handover: Callable[[], None] | None = None,
        on_restart: Callable[[], None] | None = None,
        restart_backoff_s: float = RESTART_BACKOFF_S,
    ) -> None:
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.children: list[Child] = []
        #: Children whose process ``mes run`` took over.
        self.handed_over: list[Child] = []
        self._say = say
        self._hook = _death_signal_hook()
        self._handover = handover
        self._on_handover = on_handover
        self._on_restart = on_restart
        self._restart_backoff_s = restart_backoff_s
        #: When each process was restarted (monotonic), for ``RESTART_LIMIT``.
        self._restarted: dict[str, deque[float]] = {}
        #: Restarts done so far, per process name.
        self.restarts: dict[str, int] = {}

    def taker(self, child: Child) -> int | None:
        """PID of the ``mes run`` that took ``child`` over, if one did."""
        return self._handover(child.name) if self._handover is not None else None

    async def spawn(self, spec: ProcessSpec) -> Child:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as log:
            offset = log.tell()
            try:
                process = await asyncio.create_subprocess_exec(
                    *spec.argv,
                    env=dict(spec.env),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=self._preexec(spec),
                )
            except OSError as exc:
                raise StartupError(f"cannot start {spec.name} ({spec.argv[0]}): {exc}") from exc
        child = Child(spec, process, offset)
        self.children.append(child)
        return child

    def _preexec(self, spec: ProcessSpec) -> Callable[[], None] | None:
        return child_preexec(spec, self._hook)

    async def wait_ready(self, child: Child) -> None:
        prober = Prober(child.spec)
        deadline = time.monotonic() + self.start_timeout_s
        try:
            while True:
                if child.returncode is not None:
                    raise StartupError(
                        f"{child.name} exited with code {child.returncode} before it was ready;"
                        f" last lines of {child.spec.log_path}:\n{child.tail()}"
                    )
                if await prober.check():
                    return
                if time.monotonic() >= deadline:
                    raise StartupError(
                        f"{child.name} (pid {child.pid}) was not ready within {self.start_timeout_s:.0f} s"
                        f" ({child.spec.probe_target}); last lines of {child.spec.log_path}:\n{child.tail()}"
                    )
                await asyncio.sleep(0.2)
        finally:
            await prober.close()

    async def start_group(self, specs: Sequence[ProcessSpec]) -> None:
        """Spawn every spec, then wait until all are ready (the first failure wins)."""
        children = [await self.spawn(spec) for spec in specs]
        for spec, child in zip(specs, children, strict=True):
            self._say(f"  started {spec.name:<17} pid {child.pid:<7} log {spec.log_path}")
        await asyncio.gather(*(self.wait_ready(child) for child in children))
        self._say("  ready: " + ", ".join(spec.name for spec in specs))

    async def wait_for_unexpected_exit(self) -> Child:
        """Return the first child that exits while nobody asked it to (a restartable one: once it
        could not be restarted)."""
        waits: dict[asyncio.Future[Any], Child] = {
            asyncio.ensure_future(child.process.wait()): child for child in self.children
        }
        restarts: dict[asyncio.Future[Child | None], Child] = {}
        try:
            while waits or restarts:
                done, _ = await asyncio.wait({*waits, *restarts}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task in restarts:
                        exited = restarts.pop(task)
                        again = task.result()
                        if again is None:
                            return exited
                        waits[asyncio.ensure_future(again.process.wait())] = again
                        continue
                    child = waits.pop(task)
                    if child.stopping:
                        continue
                    taker = self.taker(child)
                    if taker is None:
                        if child.spec.restart and self._may_restart(child):
                            restarts[asyncio.ensure_future(self._restart(child))] = child
                            continue
                        return child
                    child.stopping = True
                    self.handed_over.append(child)
                    self._say(
                        f"mes: {child.name} (pid {child.pid}) was handed over to `mes run` (pid {taker});"
                        " the stack goes on (it stops that process with the others)"
                    )
                    if self._on_handover is not None:
                        self._on_handover()
            await asyncio.Future()  # nothing left to watch: wait for a signal
            raise AssertionError("unreachable")
        finally:
            for task in [*waits, *restarts]:
                task.cancel()

    def _may_restart(self, child: Child) -> bool:
        """False when the process was restarted ``RESTART_LIMIT`` times within ``RESTART_WINDOW_S``."""
        times = self._restarted.setdefault(child.name, deque())
        now = time.monotonic()
        while times and now - times[0] > RESTART_WINDOW_S:
            times.popleft()
        if len(times) < RESTART_LIMIT:
            return True
        self._say(
            f"mes: {child.name} exited again after {len(times)} restarts within {RESTART_WINDOW_S:.0f} s;"
            " not restarting it"
        )
        return False

    async def _restart(self, child: Child) -> Child | None:
        """Start ``child``'s spec again (same ports, same store) until it is ready: the new child,
        or None when ``RESTART_ATTEMPTS`` tries failed."""
        self._restarted.setdefault(child.name, deque()).append(time.monotonic())
        self._say(
            f"mes: {child.name} (pid {child.pid}) exited unexpectedly with code {child.returncode};"
            f" the other processes keep running, restarting it; last lines of {child.spec.log_path}:\n{child.tail(10)}"
        )
        current = child
        for attempt in range(1, RESTART_ATTEMPTS + 1):
            await asyncio.sleep(min(self._restart_backoff_s * 2 ** (attempt - 1), RESTART_BACKOFF_MAX_S))
            if current.stopping:  # the stack is stopping
                return None
            try:
                again = await self.spawn(current.spec)
            except StartupError as exc:
                self._say(f"mes: {child.name}: restart {attempt}/{RESTART_ATTEMPTS} failed: {exc}")
                continue
            self.children.remove(again)
            self.children[self.children.index(current)] = again
            current = again
            try:
                await self.wait_ready(again)
            except StartupError as exc:
                self._say(f"mes: {child.name}: restart {attempt}/{RESTART_ATTEMPTS} failed: {exc}")
                if again.returncode is None:
                    _signal(again, signal.SIGKILL)
                    await again.process.wait()
                continue
            self.restarts[child.name] = self.restarts.get(child.name, 0) + 1
            self._say(f"mes: {child.name} restarted (pid {again.pid}, attempt {attempt}) on its ports and store")
            if self._on_restart is not None:
                self._on_restart()
            return again
        self._say(f"mes: {child.name} could not be restarted in {RESTART_ATTEMPTS} attempts")
        return None

    async def stop_all(self, force: asyncio.Event | None = None) -> None:
        """SIGTERM each stop group in turn (facade, services, nats-server); SIGKILL after the grace."""
        for child in self.children:
            child.stopping = True
        ranks = sorted({child.spec.stop_rank for child in self.children})
        for rank in ranks:
            await self._stop_taken_over([c for c in self.handed_over if c.spec.stop_rank == rank], force)
            group = [c for c in self.children if c.spec.stop_rank == rank and c.returncode is None]
            if not group:
                continue
            for child in group:
                _signal(child, child.spec.stop_signal)
            self._say("  stopping " + ", ".join(child.name for child in group))
            outcome = await self._wait_exit(group, force)
            if outcome != "exited":
                for child in group:
                    if child.returncode is None:
                        why = (
                            "second signal"
                            if outcome == "forced"
                            else f"still running after {self.stop_timeout_s:.0f} s"
                        )
                        self._say(f"  {child.name} (pid {child.pid}): {why}, sending SIGKILL")
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(child.pid, signal.SIGKILL)  # its own process group (new session)
                        _signal(child, signal.SIGKILL)
                await asyncio.gather(*(child.process.wait() for child in group))

    async def _stop_taken_over(self, children: Sequence[Child], force: asyncio.Event | None) -> None:
        """SIGTERM the ``mes run`` processes that replaced ``children``; SIGKILL after the grace."""
        pids = []
        for child in children:
            pid = self.taker(child)
            if pid is not None and pid_alive(pid) and looks_like_mes(pid, "run"):
                self._say(f"  stopping {child.name} (`mes run`, pid {pid})")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                pids.append(pid)
        deadline = time.monotonic() + self.stop_timeout_s
        while any(pid_alive(pid) for pid in pids):
            if time.monotonic() >= deadline or (force is not None and force.is_set()):
                for pid in pids:
                    if pid_alive(pid):
                        self._say(f"  `mes run` (pid {pid}) still running, sending SIGKILL")
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                break
            await asyncio.sleep(0.1)

    async def _wait_exit(self, group: Sequence[Child], force: asyncio.Event | None) -> str:
        """ "exited", "timeout" or "forced" (a second signal)."""
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(child.process.wait()) for child in group]
        forced: asyncio.Future[Any] | None = asyncio.ensure_future(force.wait()) if force is not None else None
        pending = {*waits, *([forced] if forced else [])}
        deadline = time.monotonic() + self.stop_timeout_s
        try:
            while any(not w.done() for w in waits):
                if forced is not None and forced.done():
                    return "forced"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout"
                _, pending = await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            return "exited"
        finally:
            for task in [*waits, *([forced] if forced else [])]:
                task.cancel()


def _signal(child: Child, sig: int) -> None:
    """Signal the child by pid unless it is known to have exited.

    (``Process.send_signal`` polls first, which may reap the child behind asyncio's watcher.)
    """
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, sig)
