"""``<data-dir>/stack.json``: what a running ``mes up`` started, for ``mes demo-data``,
scripts and tests. Written once everything is ready, removed on stop."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ProcessInfo", "StackState", "read_state", "remove_state", "running_owner", "state_path", "write_state"]

STATE_FILE = "stack.json"


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


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def write_state(data_dir: Path, state: StackState) -> None:
    path = state_path(data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_state(data_dir: Path) -> StackState | None:
    try:
        return StackState.from_json(json.loads(state_path(data_dir).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_state(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(data_dir).unlink()


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
    return state.pid if _looks_like_mes_up(state.pid) else None


def _looks_like_mes_up(pid: int) -> bool:
    """Guards against a recycled pid (Linux: its command line; elsewhere: assume yes)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not Path("/proc/self").exists()
    names = [arg.decode(errors="replace") for arg in args]
    program = any(Path(n).name == "mes" for n in names[:2]) or names[1:3] == ["-m", "mes_stack"]
    return program and "up" in names
