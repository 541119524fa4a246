"""Metal (J1-J4), with the dashboard specification's definitions (§5.4).

Over the operations finished (weighed out) in the window: J1 loss = weigh-in - weigh-out - scrap
returned (never below 0), fine loss = loss x fineness // 1000 per operation code and alloy, loss %
= 100 x loss / weigh-in (a ratio of sums); J2 allowed = Σ tolerance (per mille) x weigh-in // 1000
per operation, excess = Σ max(0, loss - allowed), an exception when the loss exceeded the
tolerance; J3 the same per operator who finished the operation, and per bucket; J4 (instant)
custody per holder and material: issued - returned - lost, its fine metal, and the oldest issue
not yet balanced (returns and losses balance the issues oldest first).
"""

from __future__ import annotations

from services.analytics.domain.stats import ratio
from services.analytics.domain.timeline import from_us
from services.analytics.domain.views import (
    CustodyPending,
    LossByOperation,
    LossByOperator,
    LossTrendBucket,
    MetalAnalytics,
)
from services.analytics.service_layer.commands import MetalQuery
from services.analytics.service_layer.common import UseCase, as_of, check_window, require_staff

__all__ = ["MetalAnalyticsService", "loss_pct"]


def loss_pct(loss_mg: int, gross_in_mg: int) -> float:
    return 100.0 * ratio(loss_mg, gross_in_mg)


class MetalAnalyticsService(UseCase):
    async def get(self, query: MetalQuery) -> MetalAnalytics:
        require_staff(query.principal)
        buckets = check_window(query.window, self._policy.zone)
        now = self._clock()
        start, end = buckets.window.start_us, buckets.window.end_us
        async with self._reading() as r:
            answer_as_of = await as_of(r, self._policy.streams, now)
            fineness = await r.fineness()
            by_operation = [
                LossByOperation(
                    operation_code=row.key,
                    alloy_code=row.alloy_code,
                    operations=row.operations,
                    gross_in_mg=row.gross_in_mg,
                    loss_mg=row.loss_mg,
                    loss_fine_mg=row.loss_mg * fineness.get(row.alloy_code, 0) // 1000,
                    loss_pct=loss_pct(row.loss_mg, row.gross_in_mg),
                    allowed_mg=row.allowed_mg,
                    excess_mg=row.excess_mg,
                    exceptions=row.exceptions,
                )
                for row in sorted(await r.loss_by_operation(start, end), key=lambda row: (row.key, row.alloy_code))
            ]
            operators = sorted(await r.loss_by_operator(start, end), key=lambda row: (-row.excess_mg, row.key))
            by_operator = [
                LossByOperator(
                    row.key,
                    row.operations,
                    row.gross_in_mg,
                    row.loss_mg,
                    loss_pct(row.loss_mg, row.gross_in_mg),
                    row.allowed_mg,
                    row.excess_mg,
                )
                for row in operators
            ]
            trend = [
                LossTrendBucket(
                    buckets.start(int(row.key)),
                    row.gross_in_mg,
                    row.loss_mg,
                    loss_pct(row.loss_mg, row.gross_in_mg),
                    row.allowed_mg,
                )
                for row in sorted(await r.loss_trend(buckets), key=lambda row: int(row.key))
            ]
            custody = []
            for row in sorted(await r.custody()):
                pending = row.issued_mg - row.returned_mg - row.loss_mg
                custody.append(
                    CustodyPending(
                        holder=row.holder,
                        material_code=row.material_code,
                        issued_mg=row.issued_mg,
                        returned_mg=row.returned_mg,
                        loss_mg=row.loss_mg,
                        pending_mg=pending,
                        pending_fine_mg=pending * fineness.get(row.material_code, 0) // 1000,
                        oldest_open_issue_time=(
                            from_us(row.oldest_open_issue_us)
                            if pending > 0 and row.oldest_open_issue_us is not None
                            else None
                        ),
                    )
                )
        return MetalAnalytics(answer_as_of, by_operation, by_operator, trend, custody)
