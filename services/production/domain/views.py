"""Read models: work-center load and metal-loss summaries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_WINDOW_MINUTES", "LossGrouping", "LossSummary", "WorkCenterStats", "loss_ppm"]

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


@dataclass(frozen=True, slots=True)
class WorkCenterStats:
    code: str
    capacity: int
    window_minutes: int
    queued: int = 0
    in_progress: int = 0
    in_review: int = 0
    done_in_window: int = 0
