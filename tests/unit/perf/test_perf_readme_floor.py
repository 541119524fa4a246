"""The README-stack floor check's verdict (perf/readme_floor.py): medians of the quiet and busy
windows against the must (≥ 0.8x throughput, ≤ 2x p99, every new order within 2 s)."""

from __future__ import annotations

from typing import Any

import pytest

from perf.readme_floor import verdict


def window(busy: bool, rate: float, p99: float, delays: list[float] | None = None, unseen: int = 0) -> dict[str, Any]:
    drive = {"never_seen": unseen} if busy else {}
    return {"busy": busy, "rate": rate, "p99_ms": p99, "drive": drive, "visible_delays_s": delays or []}


def floor(busy_rate: float, busy_p99: float, delays: list[float], unseen: int = 0) -> list[dict[str, Any]]:
    return [
        window(False, 1000.0, 4.0),
        window(True, busy_rate, busy_p99, delays, unseen),
        window(False, 1100.0, 5.0),
        window(True, busy_rate, busy_p99, delays, unseen),
        window(False, 900.0, 3.0),
        window(True, busy_rate, busy_p99, delays, unseen),
    ]


@pytest.mark.parametrize(
    ("busy_rate", "busy_p99", "delays", "unseen", "ok"),
    [
        (800.0, 8.0, [0.4, 1.9], 0, True),  # exactly 0.8x and 2x the quiet medians (1000, 4.0)
        (790.0, 8.0, [0.4], 0, False),  # throughput below 0.8x
        (900.0, 8.1, [0.4], 0, False),  # p99 above 2x
        (900.0, 5.0, [0.4, 2.1], 0, False),  # an order seen after 2 s
        (900.0, 5.0, [0.4], 1, False),  # an order never seen
        (900.0, 5.0, [], 0, False),  # no order seen at all: nothing was measured
    ],
)
def test_verdict(
    busy_rate: float, busy_p99: float, delays: list[float], unseen: int, ok: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verdict(floor(busy_rate, busy_p99, delays, unseen)) is ok
    assert ("verdict: OK" in capsys.readouterr().out) is ok


def test_no_answer_in_quiet_windows_is_not_ok(capsys: pytest.CaptureFixture[str]) -> None:
    windows = [window(False, 0.0, 0.0), window(True, 10.0, 1.0, [0.1])]
    assert verdict(windows) is False
    assert "got no answer" in capsys.readouterr().out
