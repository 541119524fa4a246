"""``<data-dir>/stack.json``: what a running ``mes up`` started, for ``mes demo-data``, ``mes
run``, ``mesctl``, scripts and tests. Written once everything is ready, removed on stop.

Beside it, readable by its owner only (it holds the stack's settings, secrets included):
``stack-launch.json``, the arguments and the environment ``mes up`` ran with, from which ``mes
run`` rebuilds the exact environment of one process; and ``handover/<name>``, the PID of the
``mes run`` that took a process over from ``mes up`` (which then neither stops the stack when
that process exits nor forgets to stop its replacement).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mes_kernel.processes import pid_alive

__all__ = [
    "RUN_LOG",
    "ProcessInfo",
    "StackLaunch",
    "StackState",
    "clear_handovers",
    "looks_like_mes",
    "pid_alive",
    "read_handover",
    "read_launch",
    "read_state",
    "remove_state",
    "replace_process",
    "running_owner",
    "state_path",
    "write_handover",
    "write_launch",
    "write_state",
]

STATE_FILE = "stack.json"
LAUNCH_FILE = "stack-launch.json"
#: What stack.json shows as the log of a process that ``mes run`` took over.
RUN_LOG = "(the terminal of mes run)"
HANDOVER_DIR = "handover"


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    pid: int
    address: str
    log: str


@dataclass(frozen=True)
class StackState:
    pid: int
    nats_url: str
    addresses: Mapping[str, Sequence[str]]
    processes: Sequence[ProcessInfo]

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "nats_url": self.nats_url,
            "addresses": {k: list(v) for k, v in self.addresses.items()},
            "processes": [vars(p) for p in self.processes],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackState:
        return cls(
            pid=int(data["pid"]),
            nats_url=str(data["nats_url"]),
            addresses={str(k): tuple(str(a) for a in v) for k, v in dict(data["addresses"]).items()},
            processes=[ProcessInfo(**p) for p in data["processes"]],
        )


@dataclass(frozen=True)
class StackLaunch:
    """How ``mes up`` was started: its arguments (after ``up``) and its environment."""

    argv: Sequence[str]
    env: Mapping[str, str]


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def _write_json(path: Path, data: Any, *, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def write_state(data_dir: Path, state: StackState) -> None:
    _write_json(state_path(data_dir), state.to_json())


def replace_process(data_dir: Path, info: ProcessInfo) -> None:
    """Put ``info`` in place of the process of the same name in stack.json (nothing without one)."""
    state = read_state(data_dir)
    if state is None:
        return
    processes = [info if p.name == info.name else p for p in state.processes]
    write_state(data_dir, StackState(state.pid, state.nats_url, state.addresses, processes))


def write_launch(data_dir: Path, launch: StackLaunch) -> None:
    _write_json(data_dir / LAUNCH_FILE, {"argv": list(launch.argv), "env": dict(launch.env)}, private=True)


def read_launch(data_dir: Path) -> StackLaunch | None:
    try:
        data = json.loads((data_dir / LAUNCH_FILE).read_text(encoding="utf-8"))
        return StackLaunch(tuple(str(a) for a in data["argv"]), {str(k): str(v) for k, v in data["env"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_handover(data_dir: Path, name: str, pid: int) -> None:
    folder = data_dir / HANDOVER_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    _write_json(folder / name, {"pid": pid}, private=True)


def read_handover(data_dir: Path, name: str) -> int | None:
    """PID of the ``mes run`` that took ``name`` over, if one did."""
    try:
        return int(json.loads((data_dir / HANDOVER_DIR / name).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_handovers(data_dir: Path) -> None:
    folder = data_dir / HANDOVER_DIR
    for path in folder.glob("*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def read_state(data_dir: Path) -> StackState | None:
    try:
        return StackState.from_json(json.loads(state_path(data_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_state(data_dir: Path) -> None:
    """stack.json, the launch record and the handover markers."""
    for path in (state_path(data_dir), data_dir / LAUNCH_FILE):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    clear_handovers(data_dir)


def running_owner(data_dir: Path) -> int | None:
    """PID of another live ``mes up`` using this data folder, if any."""
    state = read_state(data_dir)
    if state is None or state.pid == os.getpid():
        return None
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return state.pid if looks_like_mes(state.pid, "up") else None


def looks_like_mes(pid: int, command: str) -> bool:
    """True when ``pid`` runs ``mes <command>``: guards against a recycled pid (Linux: its
    command line; elsewhere: assume yes)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not Path("/proc/self").exists()
    names = [arg.decode(errors="replace") for arg in args]
    program = any(Path(n).name == "mes" for n in names[:2]) or names[1:3] == ["-m", "mes_stack"]
    return program and command in names

    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
