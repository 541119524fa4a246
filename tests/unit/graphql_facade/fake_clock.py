"""A clock for tests: it stands still until the test moves it."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """``clock()`` is ``now`` (seconds), which only the test changes (``now = ...`` or :meth:`advance`)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
