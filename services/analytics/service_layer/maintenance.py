"""The read model's upkeep: its status, facts imported from the services' stores, and rebuilds.

* ImportFacts merges orders and operations (marked imported) exactly as events are merged: an
  order's times are kept at their earliest and its lines once, an operation fact replaces only an
  imported one (events, which carry versions, win), so sending the same facts again changes
  nothing. The operations' work orders are derived from them (release, completion or
  cancellation: :func:`~services.analytics.domain.facts.imported_work_orders`).
* Rebuild (idempotent by ``request_id``) empties the facts (keeping the imported ones with
  ``keep_imported``), the consumers' inbox rows and the positions, then has every consumer deliver
  again from its stream's first kept message. The request id is recorded once the replay has been
  set up, so a rebuild that failed half way can be asked again with the same id.
"""

from __future__ import annotations

from mes_kernel.uow import WriteConflict
from mes_kernel.validation import Violations
from services.analytics.domain.facts import FactBatch, imported_work_orders
from services.analytics.domain.timeline import from_us
from services.analytics.domain.views import AsOf, ProjectionStatus
from services.analytics.service_layer.commands import AnalyticsPolicy, ImportFacts, Rebuild, StatusQuery
from services.analytics.service_layer.common import UseCase, as_of, require_staff
from services.analytics.service_layer.ports import AnalyticsDeps, StreamReplay, UnitOfWork
from services.analytics.service_layer.projection import merge_batch

__all__ = ["MAX_IMPORT", "MaintenanceService"]

#: Orders, and operations, per ImportFacts call at most.
MAX_IMPORT = 10_000


class MaintenanceService(UseCase):
    def __init__(self, deps: AnalyticsDeps, policy: AnalyticsPolicy, replay: StreamReplay) -> None:
        super().__init__(deps, policy)
        self._replay = replay

    async def status(self, query: StatusQuery) -> ProjectionStatus:
        require_staff(query.principal)
        now = self._clock()
        async with self._reading() as reader:
            counts = await reader.status_counts()
            answer_as_of = await as_of(reader, self._policy.streams, now)
        return ProjectionStatus(
            as_of=answer_as_of,
            orders=counts.orders,
            operations=counts.operations,
            custody_entries=counts.custody_entries,
            usage_minutes=counts.usage_minutes,
            last_event_time=from_us(counts.last_event_us) if counts.last_event_us is not None else None,
            imported_orders=counts.imported_orders,
            imported_operations=counts.imported_operations,
        )

    async def import_facts(self, cmd: ImportFacts) -> tuple[int, int]:
        """Merge the facts; returns how many orders and operations were given."""
        require_staff(cmd.principal)
        v = Violations()
        v.check(len(cmd.orders) <= MAX_IMPORT, "orders", f"must hold at most {MAX_IMPORT} facts per call")
        v.check(len(cmd.operations) <= MAX_IMPORT, "operations", f"must hold at most {MAX_IMPORT} facts per call")
        v.raise_if_any("too many facts")
        cancels = {o.order_id: o.cancel_at for o in cmd.orders if o.cancel_at is not None}
        batch = FactBatch(
            orders=cmd.orders,
            work_orders=imported_work_orders(cmd.operations, cancels),
            operations=cmd.operations,
        )

        async def merge(uow: UnitOfWork) -> None:
            await merge_batch(uow.facts, batch)

        await self._uows.transact(merge)
        return len(cmd.orders), len(cmd.operations)

    async def rebuild(self, cmd: Rebuild) -> AsOf:
        require_staff(cmd.principal)
        v = Violations()
        v.request_id(cmd.request_id)
        v.raise_if_any()
        fingerprint = "keep_imported" if cmd.keep_imported else "all"
        if cmd.request_id:
            async with self._uows.read() as uow:
                if await uow.rebuilds.seen(cmd.request_id, fingerprint):
                    return await self._as_of()
        async with self._uows.write() as uow:
            await uow.facts.clear(keep_imported=cmd.keep_imported, consumers=self._policy.consumers)
        await self._replay.replay_all()
        if cmd.request_id:
            try:
                async with self._uows.write() as uow:
                    await uow.rebuilds.record(cmd.request_id, fingerprint)
            except WriteConflict:  # the same request, concurrently: it recorded the id
                pass
        return await self._as_of()

    async def _as_of(self) -> AsOf:
        async with self._uows.read() as uow:
            return await as_of(uow.reader, self._policy.streams, self._clock())
