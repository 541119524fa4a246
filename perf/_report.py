"""Markdown tables of a bench run: one line per target (ratio, PASS/MISS) and the raw numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TargetResults",
    "TargetRow",
    "Verdict",
    "detail_table",
    "fmt_ms",
    "fmt_rate",
    "markdown_table",
    "spread",
    "target_table",
    "verdict_table",
]


@dataclass(frozen=True)
class Verdict:
    """One compared pair: ``measured`` against ``baseline`` from the same run."""

    scenario: str
    measured: str
    baseline: str
    ratio: float | None
    target: str
    #: True/False against the target; None for informational rows.
    passed: bool | None

    @property
    def result(self) -> str:
        if self.passed is None:
            return "info"
        return "PASS" if self.passed else "MISS"


def fmt_rate(value: float, unit: str = "req/s") -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def fmt_ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict_table(verdicts: Iterable[Verdict]) -> str:
    return markdown_table(
        ("scenario", "measured", "baseline (same run)", "ratio", "target", "result"),
        (
            (v.scenario, v.measured, v.baseline, "—" if v.ratio is None else f"{v.ratio:.2f}x", v.target, v.result)
            for v in verdicts
        ),
    )


def _statuses(statuses: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) or "—"


def detail_table(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """Raw numbers of every load window: (label, load summary)."""
    return markdown_table(
        ("window", "ok/s", "p50", "p99", "max", "server CPU", "load-gen CPU", "other CPU", "answers"),
        (
            (
                label,
                fmt_rate(float(r["rate"]), ""),
                fmt_ms(float(r["p50_ms"])),
                fmt_ms(float(r["p99_ms"])),
                fmt_ms(float(r["max_ms"])),
                f"{r['server_cpu_pct']:.0f} %",
                f"{r['client_cpu_pct']:.0f} %",
                f"{r.get('other_cpu_pct', 0.0):.0f} %",
                _statuses(r.get("statuses", {})),
            )
            for label, r in rows
        ),
    )


@dataclass(frozen=True)
class TargetRow:
    """One row of the issue's Targets table: the measured value against its must and stretch targets."""

    what: str
    measured: str
    baseline: str
    ratio: str
    must: str
    must_ok: bool | None
    stretch: str = "—"
    stretch_ok: bool | None = None


@dataclass
class TargetResults:
    """What a suite reported as Targets rows returns: the rows, every load window, notes."""

    rows: list[TargetRow] = field(default_factory=list)
    windows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _ok(flag: bool | None) -> str:
    return "—" if flag is None else ("PASS" if flag else "MISS")


def target_table(rows: Iterable[TargetRow]) -> str:
    return markdown_table(
        ("target", "measured (median, min-max)", "baseline (same run)", "ratio", "must", "", "stretch", ""),
        ((r.what, r.measured, r.baseline, r.ratio, r.must, _ok(r.must_ok), r.stretch, _ok(r.stretch_ok)) for r in rows),
    )


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """``median (min-max)`` of a few windows."""
    if not values:
        return "—"
    ordered = sorted(values)
    mid = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    )
    return fmt(mid) if len(ordered) == 1 else f"{fmt(mid)} ({fmt(ordered[0])}-{fmt(ordered[-1])})"
