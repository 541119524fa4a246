"""Latency summaries and CPU accounting shared by the load generator and the bench script."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CpuMeter",
    "Summary",
    "load_average",
    "machine_busy_s",
    "percentile",
    "process_cpu_s",
    "quantile",
    "summarize",
]

_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of an already sorted sequence; 0.0 when empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), -(-len(sorted_values) * q // 100)))
    return float(sorted_values[int(rank) - 1])


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (``q`` in 0..1) of ``values`` in any order, by linear interpolation between the
    closest ranks (what the scripts that report p50/p75/p95 of a few dozen samples use); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, as a report shows them (``1.20 / 0.80 / 0.50``)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class Summary:
    """What one measured window produced."""

    ok: int
    elapsed_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    client_cpu_pct: float = 0.0
    server_cpu_pct: float = 0.0
    other_cpu_pct: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "elapsed_s": round(self.elapsed_s, 3),
            "rate": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "errors": self.errors,
            "statuses": self.statuses,
            "client_cpu_pct": round(self.client_cpu_pct, 1),
            "server_cpu_pct": round(self.server_cpu_pct, 1),
            "other_cpu_pct": round(self.other_cpu_pct, 1),
            "extra": self.extra,
        }


def summarize(latencies_ms: Iterable[float], *, ok: int, elapsed_s: float) -> Summary:
    values = sorted(latencies_ms)
    return Summary(
        ok=ok,
        elapsed_s=elapsed_s,
        p50_ms=percentile(values, 50),
        p90_ms=percentile(values, 90),
        p99_ms=percentile(values, 99),
        max_ms=values[-1] if values else 0.0,
    )


def _stat_cpu_s(pid: int, first: int) -> float:
    """Two consecutive tick fields of ``/proc/<pid>/stat`` (counted after the command), in seconds."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[first]) + int(fields[first + 1])) / _TICKS


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of every thread of ``pid`` (0.0 when it is gone)."""
    return _stat_cpu_s(pid, 11)


def reaped_children_cpu_s(pid: int) -> float:
    """CPU seconds of the children ``pid`` has waited for (``cutime + cstime``): for the postmaster, its
    ended backends and parallel query workers, which live too briefly to be counted by their PIDs."""
    return _stat_cpu_s(pid, 13)


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU used by this process, by the server processes and by everything else on the machine
    between ``start`` and ``stop``: (client, servers, others).

    Percentages are of one core: 100 % is one core busy for the whole window. "Others" is the
    machine's busy time minus the two first (other programs, the kernel's share not charged to
    a process, and a second load generator when there is one).
    """

    def __init__(self, server_pids: Sequence[int]) -> None:
        self._pids = list(server_pids)
        self._start = (0.0, 0.0, 0.0)

    def _read(self) -> tuple[float, float, float]:
        return _self_cpu_s(), sum(process_cpu_s(p) for p in self._pids), machine_busy_s()

    def start(self) -> None:
        self._start = self._read()

    def stop(self, elapsed_s: float) -> tuple[float, float, float]:
        if elapsed_s <= 0:
            return 0.0, 0.0, 0.0
        now = self._read()
        client, servers, machine = (100.0 * (b - a) / elapsed_s for a, b in zip(self._start, now, strict=True))
        return client, servers, max(0.0, machine - client - servers)
