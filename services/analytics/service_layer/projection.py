"""The projection: facts from the consumed events into the store, with the stream position.

Runs inside the event consumer's transaction (the units of work are borrowed from it): the facts
and the position commit with the inbox row of the event, or not at all. Every merge is idempotent
and independent of the order events arrive in (:mod:`services.analytics.domain.facts`), so a
redelivery, or another stream's events arriving first, changes nothing.
"""

from __future__ import annotations

from services.analytics.domain.facts import FactBatch, StreamMark
from services.analytics.service_layer.ports import FactStore, UnitsOfWork

__all__ = ["Projection", "merge_batch"]


async def merge_batch(facts: FactStore, batch: FactBatch) -> None:
    await facts.merge(batch)


class Projection:
    async def apply(self, batch: FactBatch, mark: StreamMark, *, uows: UnitsOfWork) -> None:
        """Merge the event's facts and move the stream's position."""
        async with uows.write() as uow:
            await merge_batch(uow.facts, batch)
            await uow.facts.advance(mark)
