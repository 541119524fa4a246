"""Read models for the dashboard: work-center load and metal loss."""

from __future__ import annotations

from datetime import timedelta

from mes_kernel.batch import check_batch_size
from mes_kernel.errors import NotFound
from mes_kernel.principal import require_staff
from mes_kernel.validation import Violations
from services.production.domain.views import DEFAULT_WINDOW_MINUTES, BenchFigures, LossSummary, WorkCenterStats
from services.production.service_layer.commands import SummarizeMetalLoss, WorkCenterStatsQuery
from services.production.service_layer.common import UseCases
from services.production.service_layer.ports import ProductionDeps

__all__ = ["MAX_WINDOW_MINUTES", "ViewHandlers"]

MAX_WINDOW_MINUTES = 43_200  # 30 days
_ALL_CENTERS = 10_000


class ViewHandlers(UseCases):
    def __init__(self, deps: ProductionDeps, *, default_window_minutes: int = DEFAULT_WINDOW_MINUTES) -> None:
        super().__init__(deps)
        self._default_window = default_window_minutes

    async def work_center_stats(self, query: WorkCenterStatsQuery) -> list[WorkCenterStats]:
        """Queued, in progress, in review, and done in the window, per work center (in request
        order; every center by code when none is named), with the bench's figures. Paused
        operations count as in progress: they hold their place at the bench."""
        require_staff(query.principal)
        check_batch_size(len(query.codes), "work_centers")
        v = Violations()
        v.non_negative(query.window_minutes, "window_minutes", maximum=MAX_WINDOW_MINUTES)
        v.raise_if_any()
        window = query.window_minutes or self._default_window
        since = self._deps.clock() - timedelta(minutes=window)
        async with self._uows.read() as uow:
            if query.codes:
                found = await uow.work_centers.get_many(set(query.codes))
                missing = [code for code in query.codes if code not in found]
                if missing:
                    raise NotFound(f"work center {missing[0]} not found", metadata={"missing": missing[0]})
                centers = [found[code] for code in query.codes]
            else:
                centers = await uow.work_centers.list_page(None, _ALL_CENTERS)
            counts = await uow.operations.center_counts({c.code for c in centers}, since)
            figures = await uow.operations.bench_figures({c.code for c in centers})
        none = BenchFigures()
        return [
            WorkCenterStats(
                code=c.code,
                capacity=c.capacity,
                window_minutes=window,
                queued=counts.get(c.code, {}).get("QUEUED", 0),
                in_progress=sum(counts.get(c.code, {}).get(status, 0) for status in ("IN_PROGRESS", "PAUSED")),
                in_review=counts.get(c.code, {}).get("LOSS_REVIEW", 0),
                done_in_window=counts.get(c.code, {}).get("DONE_IN_WINDOW", 0),
                paused=counts.get(c.code, {}).get("PAUSED", 0),
                oldest_queued_time=figures.get(c.code, none).oldest_queued_time,
                wip_pieces=figures.get(c.code, none).wip_pieces,
                wip_metal=figures.get(c.code, none).wip_metal,
            )
            for c in centers
        ]

    async def summarize_metal_loss(self, query: SummarizeMetalLoss) -> list[LossSummary]:
        """Loss of every weighed attempt (reworked ones included) finished since ``query.since``."""
        require_staff(query.principal)
        async with self._uows.read() as uow:
            return await uow.operations.loss_summary(query.grouping, query.since)
