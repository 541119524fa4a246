"""Read models: work-center load and metal-loss summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "DEFAULT_WINDOW_MINUTES",
    "BenchFigures",
    "LossGrouping",
    "LossSummary",
    "WorkCenterStats",
    "loss_ppm",
    "queued_since",
]

DEFAULT_WINDOW_MINUTES = 480  # one shift


class LossGrouping(StrEnum):
    OPERATION_CODE = "OPERATION_CODE"
    OPERATOR = "OPERATOR"


def loss_ppm(loss_mg: int, weigh_in_mg: int) -> int:
    return loss_mg * 1_000_000 // weigh_in_mg if weigh_in_mg > 0 else 0


@dataclass(frozen=True, slots=True)
class LossSummary:
    key: str
    operations: int
    weigh_in_mg: int
    loss_mg: int
    reviews: int

    @property
    def loss_ppm(self) -> int:
        return loss_ppm(self.loss_mg, self.weigh_in_mg)


def queued_since(created: datetime, *finishes: datetime | None) -> datetime:
    """Since when a queued operation waits: the latest of its work order's creation and the
    ``finishes`` (its earlier steps', and its own last one when it is a reworked step)."""
    return max((created, *(t for t in finishes if t is not None)))


@dataclass(frozen=True, slots=True)
class BenchFigures:
    """What waits at a work center and what is on its bench (operations in progress or paused)."""

    oldest_queued_time: datetime | None = None
    wip_pieces: int = 0
    #: (alloy code, gross milligrams weighed in), by alloy code.
    wip_metal: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, oldest_queued_time: datetime | None, bench: Iterable[tuple[str, int, int]]) -> BenchFigures:
        """From the oldest queued time and the bench's (alloy code, pieces, gross mg) per alloy."""
        rows = sorted(bench)
        return cls(
            oldest_queued_time,
            sum(pieces for _, pieces, _ in rows),
            tuple((alloy, gross) for alloy, _, gross in rows),
        )


@dataclass(frozen=True, slots=True)
class WorkCenterStats:
    code: str
    capacity: int
    window_minutes: int
    queued: int = 0
    in_progress: int = 0
    in_review: int = 0
    done_in_window: int = 0
    #: Of ``in_progress``, the paused ones.
    paused: int = 0
    oldest_queued_time: datetime | None = None
    wip_pieces: int = 0
    wip_metal: tuple[tuple[str, int], ...] = ()
