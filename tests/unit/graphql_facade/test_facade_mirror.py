"""``graphql_facade.schema.mirror``: a Strawberry type filled from a protobuf message by field name, each
field converted by what it is declared as, the few exceptions named in the class statement, and a
field the rules cannot convert refused with a ``TypeError`` that names it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import strawberry

from graphql_facade.schema.analytics import Cadence, LeadTime, WorkCenterNow
from graphql_facade.schema.common import Long, OperationStatus
from graphql_facade.schema.mirror import Mirror
from graphql_facade.schema.production import Operation
from mes.analytics.v1 import analytics_pb2 as pb
from mes.production.v1 import production_pb2 as prod


def test_mirror_converts_each_field_by_its_declared_type() -> None:
    op = prod.Operation(
        work_order_id="WO-1",
        order_id="O-1",
        sequence=3,
        operation_code="CAST",
        work_center="workCenters/CAST-1",
        status=prod.OPERATION_STATUS_PAUSED,
        weigh_in_mg=12_000,
        started_by="OP-01",
    )
    op.start_time.FromDatetime(datetime(2026, 5, 4, 7, 30, tzinfo=UTC))

    got = Operation.from_pb(op)

    assert (got.id, got.work_order_id, got.work_center_id) == ("WO-1.3", "WO-1", "CAST-1")  # named in the class
    assert got.status is OperationStatus.PAUSED  # enum by number
    assert got.weigh_in_mg == 12_000 and got.sequence == 3 and got.started_by == "OP-01"  # as they are
    assert got.start_time == datetime(2026, 5, 4, 7, 30, tzinfo=UTC)  # aware UTC
    assert got.finish_time is None and got.pause_time is None  # unset timestamps
    assert Operation.from_pb(prod.Operation(status=999)).status is None  # unknown value: null


def test_mirror_optional_numbers_follow_the_presence_flag() -> None:
    below = LeadTime.from_pb(pb.LeadTime(partner_id="", n=3, p50_hours=0.0))
    assert (below.partner_id, below.has_percentiles, below.p50_hours, below.p95_hours) == (None, False, None, None)
    above = LeadTime.from_pb(pb.LeadTime(partner_id="P1", n=9, has_percentiles=True, p50_hours=0.0, p95_hours=7.5))
    assert (above.partner_id, above.p50_hours, above.p95_hours) == ("P1", 0.0, 7.5)  # a set zero stays zero
    assert Cadence.from_pb(pb.Cadence(has_median=True, median_gap_days=2.5)).median_gap_days == 2.5
    assert Cadence.from_pb(pb.Cadence(median_gap_days=2.5)).median_gap_days is None
    assert WorkCenterNow.from_pb(pb.WorkCenterNow(work_center="workCenters/POL-2")).work_center_id == "POL-2"


def test_mirror_refuses_a_field_it_cannot_convert_naming_it() -> None:
    @strawberry.type
    class Opaque(Mirror):
        code: str
        raw: strawberry.Private[object]

    with pytest.raises(TypeError, match=r"Opaque\.raw"):
        Opaque.from_pb(prod.WorkCenter(code="C"))

    @strawberry.type
    class Unflagged(Mirror):
        capacity: Long | None

    with pytest.raises(TypeError, match=r"Unflagged\.capacity: an optional number needs `present=`"):
        Unflagged.from_pb(prod.WorkCenter(capacity=2))


def test_mirror_refuses_a_named_field_the_type_does_not_have() -> None:
    @strawberry.type
    class Misnamed(Mirror, ident="code"):
        code: str

    with pytest.raises(TypeError, match="Misnamed has no field ident"):
        Misnamed.from_pb(prod.WorkCenter(code="C"))
