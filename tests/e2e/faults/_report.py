"""The counts of one fault run and the invariants they must satisfy."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    name: str
    attempts: int = 0
    acknowledged: int = 0
    unknown: int = 0
    lost: int = 0
    duplicated: int = 0
    double_reservations: int = 0
    reservation_mismatches: int = 0
    lot_mismatches: int = 0
    duplicate_work_orders: int = 0
    duplicate_transitions: int = 0
    wrong_state: int = 0
    in_production: int = 0
    on_hold: int = 0
    redeliveries: int = 0
    dead_letters: int = 0
    inbox: int = 0
    #: Outbox events not (yet) in the inbox of a consumer of their subject.
    undelivered: int = 0
    #: Deliveries the inbox recognised as already applied (``/metrics`` of the processes
    #: alive at the end, since their last start: a lower bound).
    deduplicated: int = 0
    unpublished: int = 0
    calls: int = 0
    #: Acknowledgements that answered a retry of an already committed order (``replayed``).
    replayed: int = 0
    errors: str = "none"
    #: Status of every SubmitOrder attempt, as the client channel saw it (library retries included).
    submit_codes: str = "none"
    elapsed_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    dead_letter_rows: list[tuple[str, str, int, str]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.name}: attempts={self.attempts} acknowledged={self.acknowledged} lost={self.lost} "
            f"duplicated={self.duplicated} double_reservations={self.double_reservations} "
            f"redeliveries={self.redeliveries} dead_letters={self.dead_letters} wrong_state={self.wrong_state} "
            f"| in_production={self.in_production} on_hold={self.on_hold} unknown={self.unknown} "
            f"lot_mismatches={self.lot_mismatches} reservation_mismatches={self.reservation_mismatches} "
            f"duplicate_work_orders={self.duplicate_work_orders} duplicate_transitions={self.duplicate_transitions} "
            f"inbox={self.inbox} deduplicated={self.deduplicated} undelivered={self.undelivered} "
            f"unpublished={self.unpublished} "
            f"calls={self.calls} replayed={self.replayed} errors={self.errors} submit_rpcs={self.submit_codes} "
            f"elapsed={self.elapsed_s:.1f}s faults=[{', '.join(self.faults)}]"
        )

    def broken(self, planned: int, *, dead_letters: int = 0) -> list[str]:
        """The invariants this run violates (empty when everything holds)."""
        checks = {
            "every planned order acknowledged": self.acknowledged == self.attempts == planned,
            "lost == 0": self.lost == 0,
            "duplicated == 0": self.duplicated == 0,
            "double_reservations == 0": self.double_reservations == 0,
            "reservation_mismatches == 0": self.reservation_mismatches == 0,
            "lot_mismatches == 0": self.lot_mismatches == 0,
            "wrong_state == 0": self.wrong_state == 0,
            "duplicate_work_orders == 0": self.duplicate_work_orders == 0,
            "duplicate_transitions == 0": self.duplicate_transitions == 0,
            f"dead_letters == {dead_letters}": self.dead_letters == dead_letters,
            "undelivered == 0": self.undelivered == 0,
            "unpublished == 0": self.unpublished == 0,
        }
        return [name for name, ok in checks.items() if not ok]

    def explain(self) -> str:
        return self.line() + "".join(f"\n  {d}" for d in self.details[:40])
