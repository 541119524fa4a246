"""All-or-none FIFO allocation as a pure function over lot snapshots."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.inventory.domain.allocation import Requirement, allocate, totals_by_material
from services.inventory.domain.lots import LotSnapshot
from services.inventory.domain.materials import MaterialKey, MaterialKind

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MATERIALS: list[MaterialKey] = [
    (MaterialKind.METAL, "AU750Y"),
    (MaterialKind.METAL, "AG925"),
    (MaterialKind.STONE, "DIA-RB-2MM"),
]


@st.composite
def lot_lists(draw: st.DrawFn) -> list[LotSnapshot]:
    count = draw(st.integers(0, 8))
    lots = []
    for i in range(count):
        kind, code = draw(st.sampled_from(MATERIALS))
        available = draw(st.integers(0, 1000))
        when = T0 + timedelta(minutes=draw(st.integers(0, 5)))
        lots.append(LotSnapshot(f"lot-{i:02d}", kind, code, available, when))
    return lots


requirement_lists = st.lists(
    st.builds(
        lambda m, q, line: Requirement(m[0], m[1], q, line),
        st.sampled_from(MATERIALS),
        st.integers(1, 1500),
        st.integers(1, 5),
    ),
    min_size=1,
    max_size=6,
)


def fifo_key(lot: LotSnapshot) -> tuple[datetime, str]:
    return (lot.receive_time, lot.lot_id)


@given(lot_lists(), requirement_lists)
def test_allocations_never_exceed_availability_and_are_all_or_none(
    lots: list[LotSnapshot], requirements: list[Requirement]
) -> None:
    result = allocate(requirements, lots)
    by_id = {lot.lot_id: lot for lot in lots}
    free: dict[MaterialKey, int] = defaultdict(int)
    for lot in lots:
        free[lot.key] += lot.available
    totals = totals_by_material(requirements)

    if result.satisfied:
        taken: dict[str, int] = defaultdict(int)
        per_line: dict[int, int] = defaultdict(int)
        for index, a in enumerate(result.allocations):
            lot = by_id[a.lot_id]
            assert (lot.kind, lot.material_code) == (a.kind, a.material_code)
            assert a.quantity > 0
            taken[a.lot_id] += a.quantity
            per_line[index] = a.quantity
        assert all(taken[lot_id] <= by_id[lot_id].available for lot_id in taken)
        for key, required in totals.items():
            got = sum(a.quantity for a in result.allocations if (a.kind, a.material_code) == key)
            assert got == required
        assert all(totals[key] <= free[key] for key in totals)
    else:
        assert result.allocations == ()
        short = {(s.kind, s.material_code): s for s in result.shortages}
        assert short
        for key, required in totals.items():
            if required > free[key]:
                assert short[key].required == required
                assert short[key].available == free[key]
            else:
                assert key not in short


@given(lot_lists(), requirement_lists)
def test_lots_are_taken_oldest_first(lots: list[LotSnapshot], requirements: list[Requirement]) -> None:
    result = allocate(requirements, lots)
    if not result.satisfied:
        return
    taken: dict[str, int] = defaultdict(int)
    for a in result.allocations:
        taken[a.lot_id] += a.quantity
    for key in {r.key for r in requirements}:
        queue = sorted((lot for lot in lots if lot.key == key and lot.available > 0), key=fifo_key)
        used = [i for i, lot in enumerate(queue) if taken.get(lot.lot_id)]
        if used:
            # every lot before the newest one used was emptied
            assert all(taken.get(lot.lot_id, 0) == lot.available for lot in queue[: used[-1]])


def test_each_line_records_its_own_allocations() -> None:
    lots = [
        LotSnapshot("old", MaterialKind.METAL, "AU750Y", 500, T0),
        LotSnapshot("new", MaterialKind.METAL, "AU750Y", 500, T0 + timedelta(days=1)),
    ]
    result = allocate(
        [Requirement(MaterialKind.METAL, "AU750Y", 400, 1), Requirement(MaterialKind.METAL, "AU750Y", 300, 2)], lots
    )
    assert [(a.lot_id, a.quantity, a.line_number) for a in result.allocations] == [
        ("old", 400, 1),
        ("old", 100, 2),
        ("new", 200, 2),
    ]


def test_shortage_sums_lines_of_one_material() -> None:
    lots = [LotSnapshot("a", MaterialKind.METAL, "AU750Y", 500, T0)]
    result = allocate(
        [Requirement(MaterialKind.METAL, "AU750Y", 300, 1), Requirement(MaterialKind.METAL, "AU750Y", 300, 2)], lots
    )
    assert result.allocations == ()
    assert [(s.material_code, s.required, s.available) for s in result.shortages] == [("AU750Y", 600, 500)]


def test_a_stone_code_does_not_serve_a_metal_requirement() -> None:
    lots = [LotSnapshot("s", MaterialKind.STONE, "X1", 10, T0)]
    result = allocate([Requirement(MaterialKind.METAL, "X1", 5)], lots)
    assert not result.satisfied
