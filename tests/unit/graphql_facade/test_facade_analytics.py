"""The analytics fields of the facade over a fake analytics service (a fifth channel of the fake backend,
answered with canned messages): every message field mapped, who may ask for what (operators of both
roles; a partner its own ``partnerAnalytics`` only), the window and its errors named after the arguments,
an installation without the service, the cost of the fields, and the response cache keeping their
answers for the analytics TTL, untouched by events."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from graphql import GraphQLObjectType, get_named_type, parse

from clients import InvalidArgumentError, UnavailableError
from clients._errors import FieldViolation
from graphql_facade.backend import client_config
from graphql_facade.caching import open_cache
from graphql_facade.events import EventEnvelope
from graphql_facade.limits import requested_cost
from graphql_facade.pipeline.execute import EXECUTIONS
from graphql_facade.response_cache import CacheConfig
from graphql_facade.response_cache.shared import SharedAnswers, Stored
from graphql_facade.response_cache.tags import ANALYTICS, INVENTORY
from graphql_facade.schema import build_schemas
from graphql_facade.schema.analytics import ANALYTICS_COST, ANALYTICS_FIELDS
from mes.analytics.v1 import analytics_pb2 as pb
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes_contracts.events import LOT_RECEIVED
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    OPERATOR_TOKEN,
    PARTNER_A,
    PARTNER_A_KEY,
    PARTNER_B_KEY,
    FacadeClient,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_answers import data_of, error_of
from tests.unit.graphql_facade.facade_fakes import FakeBackend, FakeChannel, client_error

ANALYTICS_ADDR = "analytics.test:50155"
FROM, TO = "2030-03-02T00:00:00Z", "2030-03-09T00:00:00Z"
START = datetime(2030, 3, 2, tzinfo=UTC)
COMPUTED = datetime(2030, 3, 9, 8, 30, tzinfo=UTC)

PARTNERS = """query($from: DateTime!, $to: DateTime!, $grain: Grain, $partner: ID) {
  partnerAnalytics(from: $from, to: $to, grain: $grain, partner: $partner) {
    asOf { computedAt positions { stream sequence } }
    volume { partnerId bucketStart orders pieces }
    mix { dimension key pieces share }
    cancellation { partnerId bucketStart submitted cancelled cancelledBeforeRelease cancelledAfterRelease rate mature }
    leadTime { partnerId n hasPercentiles p50Hours p85Hours p95Hours }
    delivery { partnerId shipped onTime otd }
    cadence { partnerId submissions hasMedian medianGapDays daysSinceLast quiet }
    apiUsage { partnerId bucketStart requests throttled rateLimited throttleRate costUsed costCapacity
      costUtilisation errors4xx errors5xx errorRate4xx errorRate5xx hasPercentiles p50Ms p95Ms }
    apiOperations { partnerId operation requests errors hasPercentiles p50Ms p95Ms }
    apiErrors { partnerId code count }
    idempotency { partnerId submissions replays keyReused replayRate }
  } }"""
FLOW = """query($from: DateTime!, $to: DateTime!) { flowAnalytics(from: $from, to: $to, grain: WEEK) {
  asOf { computedAt }
  valueStream { operationCode n hasPercentiles queueP50Min queueP85Min touchP50Min touchP85Min }
  workCenters { workCenterId wipOperations wipGrossMg wipFineMg queue oldestQueueMin medianQueueMin }
  wipAging { upToHours workOrders }
  throughput { workCenterId bucketStart operations }
  shipped { bucketStart orders }
  utilisation { workCenterId busyMin availableMin utilisation meanQueueMin rank constraintCandidate }
  littlesLaw { meanWip throughputPerDay meanFlowDays deviation steady completed } } }"""
METAL = """query($from: DateTime!, $to: DateTime!) { metalAnalytics(from: $from, to: $to) {
  asOf { computedAt }
  byOperation { operationCode alloyCode operations grossInMg lossMg lossFineMg lossPct allowedMg excessMg exceptions }
  byOperator { operatorCode operations grossInMg lossMg lossPct allowedMg excessMg }
  trend { bucketStart grossInMg lossMg lossPct allowedMg }
  custody { holder materialCode issuedMg returnedMg lossMg pendingMg pendingFineMg oldestOpenIssueTime } } }"""
VOLUME = """query($from: DateTime!, $to: DateTime!, $partner: ID) {
  partnerAnalytics(from: $from, to: $to, partner: $partner) { asOf { computedAt } volume { partnerId orders } } }"""
WINDOW = {"from": FROM, "to": TO}


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def _as_of() -> pb.AsOf:
    positions = [pb.StreamPosition(stream="ORDERS", sequence=42), pb.StreamPosition(stream="FACADE", sequence=7)]
    return pb.AsOf(compute_time=_stamp(COMPUTED), positions=positions)


class FakeAnalyticsBackend(FakeBackend):
    """The fake backend with the analytics service's RPCs, answering canned messages (per partner for
    ``GetPartnerAnalytics``: the rows of ``partner_id``, or every partner's for "")."""

    def __init__(self) -> None:
        super().__init__()
        assert self._channels is not None
        self._channels["analytics"] = FakeChannel(self)  # type: ignore[assignment]

    async def get_partner_analytics(self, request: pb.GetPartnerAnalyticsRequest) -> pb.GetPartnerAnalyticsResponse:
        partners = [request.partner_id] if request.partner_id else ["partner-a", "partner-b"]
        return pb.GetPartnerAnalyticsResponse(
            as_of=_as_of(),
            volume=[
                pb.VolumeBucket(partner_id=p, bucket_start=_stamp(START), orders=3 + i, pieces=7 + i)
                for i, p in enumerate(partners)
            ],
            mix=[pb.MixShare(dimension=pb.MIX_DIMENSION_STYLE, key="RNG-SOL-001", pieces=7, share=0.7)],
            cancellation=[
                pb.CancellationCohort(
                    partner_id=partners[0],
                    bucket_start=_stamp(START),
                    submitted=10,
                    cancelled=2,
                    cancelled_before_release=1,
                    cancelled_after_release=1,
                    rate=0.2,
                    mature=False,
                )
            ],
            lead_time=[
                pb.LeadTime(partner_id="", n=12, has_percentiles=True, p50_hours=50.0, p85_hours=80.5, p95_hours=99.0),
                pb.LeadTime(partner_id=partners[0], n=3, has_percentiles=False),
            ],
            delivery=[pb.Delivery(partner_id=partners[0], shipped=8, on_time=6, otd=0.75)],
            cadence=[
                pb.Cadence(
                    partner_id=partners[0],
                    submissions=9,
                    has_median=True,
                    median_gap_days=2.5,
                    days_since_last=16.0,
                    quiet=True,
                )
            ],
            api_usage=[
                pb.ApiUsageBucket(
                    partner_id=partners[0],
                    bucket_start=_stamp(START),
                    requests=100,
                    throttled=3,
                    rate_limited=1,
                    throttle_rate=0.04,
                    cost_used=500,
                    cost_capacity=2000,
                    cost_utilisation=0.25,
                    errors_4xx=5,
                    errors_5xx=1,
                    error_rate_4xx=0.05,
                    error_rate_5xx=0.01,
                    has_percentiles=True,
                    p50_ms=5.0,
                    p95_ms=25.0,
                )
            ],
            api_operations=[
                pb.ApiOperationUsage(partner_id=partners[0], operation="SubmitOrder", requests=40, errors=2)
            ],
            api_errors=[pb.ApiErrorCount(partner_id=partners[0], code="THROTTLED", count=3)],
            idempotency=[
                pb.Idempotency(partner_id=partners[0], submissions=40, replays=4, key_reused=1, replay_rate=0.1)
            ],
        )

    async def get_flow_analytics(self, request: pb.GetFlowAnalyticsRequest) -> pb.GetFlowAnalyticsResponse:
        return pb.GetFlowAnalyticsResponse(
            as_of=_as_of(),
            value_stream=[
                pb.ValueStreamStep(
                    operation_code="CASTING",
                    n=20,
                    has_percentiles=True,
                    queue_p50_min=30.0,
                    queue_p85_min=95.0,
                    touch_p50_min=12.0,
                    touch_p85_min=18.0,
                )
            ],
            work_centers=[
                pb.WorkCenterNow(
                    work_center="workCenters/CAST-1",
                    wip_operations=4,
                    wip_gross_mg=12_500,
                    wip_fine_mg=9_375,
                    queue=3,
                    oldest_queue_min=120.0,
                    median_queue_min=45.0,
                )
            ],
            wip_aging=[pb.WipAgingBucket(up_to_hours=24, work_orders=5), pb.WipAgingBucket(work_orders=1)],
            throughput=[
                pb.ThroughputBucket(work_center="workCenters/CAST-1", bucket_start=_stamp(START), operations=9)
            ],
            shipped=[pb.ShippedBucket(bucket_start=_stamp(START), orders=4)],
            utilisation=[
                pb.Utilisation(
                    work_center="workCenters/CAST-1",
                    busy_min=400.0,
                    available_min=450.0,
                    utilisation=0.8889,
                    mean_queue_min=50.0,
                    rank=1,
                    constraint_candidate=True,
                )
            ],
            littles_law=pb.LittlesLaw(
                mean_wip=10.0, throughput_per_day=2.0, mean_flow_days=5.2, deviation=0.04, steady=True, completed=14
            ),
        )

    async def get_metal_analytics(self, request: pb.GetMetalAnalyticsRequest) -> pb.GetMetalAnalyticsResponse:
        return pb.GetMetalAnalyticsResponse(
            as_of=_as_of(),
            by_operation=[
                pb.LossByOperation(
                    operation_code="CASTING",
                    alloy_code="AU750Y",
                    operations=6,
                    gross_in_mg=60_000,
                    loss_mg=900,
                    loss_fine_mg=675,
                    loss_pct=1.5,
                    allowed_mg=1_200,
                    excess_mg=50,
                    exceptions=1,
                )
            ],
            by_operator=[
                pb.LossByOperator(
                    operator_code="OP-01",
                    operations=6,
                    gross_in_mg=60_000,
                    loss_mg=900,
                    loss_pct=1.5,
                    allowed_mg=1_200,
                    excess_mg=50,
                )
            ],
            trend=[
                pb.LossTrendBucket(
                    bucket_start=_stamp(START), gross_in_mg=60_000, loss_mg=900, loss_pct=1.5, allowed_mg=1_200
                )
            ],
            custody=[
                pb.CustodyPending(
                    holder="OP-01",
                    material_code="AU750Y",
                    issued_mg=20_000,
                    returned_mg=15_000,
                    loss_mg=100,
                    pending_mg=4_900,
                    pending_fine_mg=3_675,
                    oldest_open_issue_time=_stamp(START),
                ),
                pb.CustodyPending(holder="OP-02", material_code="AG925", issued_mg=1_000, returned_mg=1_000),
            ],
        )


@pytest.fixture
def analytics() -> FakeAnalyticsBackend:
    fake = FakeAnalyticsBackend()
    fake.add_catalogue()
    fake.add_partner("partner-a", PARTNER_A_KEY)
    fake.add_partner("partner-b", PARTNER_B_KEY)
    return fake


def _settings(**env: str) -> Any:
    return facade_settings(MES_FACADE_ANALYTICS_ADDR=ANALYTICS_ADDR, **env)


@pytest.fixture
async def client(analytics: FakeAnalyticsBackend) -> Any:
    async with running_app(analytics, _settings()) as c:
        yield c


def sent(backend: FakeBackend, method: str) -> list[Any]:
    return [request for name, request in backend.requests if name == method]


# -- what the fields answer ----------------------------------------------------------------------------


async def test_partner_analytics_mirror_every_field_of_the_service(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    answer = data_of(await client.gql(PARTNERS, {**WINDOW, "grain": "WEEK"}))["partnerAnalytics"]
    assert answer["asOf"] == {
        "computedAt": "2030-03-09T08:30:00+00:00",
        "positions": [{"stream": "ORDERS", "sequence": 42}, {"stream": "FACADE", "sequence": 7}],
    }
    assert answer["volume"] == [
        {"partnerId": "partner-a", "bucketStart": "2030-03-02T00:00:00+00:00", "orders": 3, "pieces": 7},
        {"partnerId": "partner-b", "bucketStart": "2030-03-02T00:00:00+00:00", "orders": 4, "pieces": 8},
    ]
    assert answer["mix"] == [{"dimension": "STYLE", "key": "RNG-SOL-001", "pieces": 7, "share": 0.7}]
    assert answer["cancellation"][0] == {
        "partnerId": "partner-a",
        "bucketStart": "2030-03-02T00:00:00+00:00",
        "submitted": 10,
        "cancelled": 2,
        "cancelledBeforeRelease": 1,
        "cancelledAfterRelease": 1,
        "rate": 0.2,
        "mature": False,
    }
    everyone, few = answer["leadTime"]
    assert everyone == {
        "partnerId": None,
        "n": 12,
        "hasPercentiles": True,
        "p50Hours": 50.0,
        "p85Hours": 80.5,
        "p95Hours": 99.0,
    }
    assert few == {
        "partnerId": "partner-a",
        "n": 3,
        "hasPercentiles": False,
        "p50Hours": None,
        "p85Hours": None,
        "p95Hours": None,
    }
    assert answer["delivery"] == [{"partnerId": "partner-a", "shipped": 8, "onTime": 6, "otd": 0.75}]
    assert answer["cadence"] == [
        {
            "partnerId": "partner-a",
            "submissions": 9,
            "hasMedian": True,
            "medianGapDays": 2.5,
            "daysSinceLast": 16.0,
            "quiet": True,
        }
    ]
    usage = answer["apiUsage"][0]
    assert usage["requests"] == 100 and usage["throttled"] == 3 and usage["rateLimited"] == 1
    assert usage["throttleRate"] == 0.04 and usage["costUtilisation"] == 0.25
    assert (usage["errors4xx"], usage["errors5xx"], usage["errorRate4xx"], usage["errorRate5xx"]) == (5, 1, 0.05, 0.01)
    assert (usage["hasPercentiles"], usage["p50Ms"], usage["p95Ms"]) == (True, 5.0, 25.0)
    assert answer["apiOperations"] == [
        {
            "partnerId": "partner-a",
            "operation": "SubmitOrder",
            "requests": 40,
            "errors": 2,
            "hasPercentiles": False,
            "p50Ms": None,
            "p95Ms": None,
        }
    ]
    assert answer["apiErrors"] == [{"partnerId": "partner-a", "code": "THROTTLED", "count": 3}]
    assert answer["idempotency"] == [
        {"partnerId": "partner-a", "submissions": 40, "replays": 4, "keyReused": 1, "replayRate": 0.1}
    ]
    (request,) = sent(analytics, "GetPartnerAnalytics")
    assert request.partner_id == ""
    assert request.window.from_time.ToDatetime(tzinfo=UTC) == START
    assert request.window.to_time.ToDatetime(tzinfo=UTC) == datetime(2030, 3, 9, tzinfo=UTC)
    assert request.window.grain == pb.GRAIN_WEEK


async def test_flow_and_metal_analytics_mirror_every_field_of_the_service(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    flow = data_of(await client.gql(FLOW, WINDOW))["flowAnalytics"]
    assert flow["valueStream"] == [
        {
            "operationCode": "CASTING",
            "n": 20,
            "hasPercentiles": True,
            "queueP50Min": 30.0,
            "queueP85Min": 95.0,
            "touchP50Min": 12.0,
            "touchP85Min": 18.0,
        }
    ]
    assert flow["workCenters"] == [
        {
            "workCenterId": "CAST-1",
            "wipOperations": 4,
            "wipGrossMg": 12500,
            "wipFineMg": 9375,
            "queue": 3,
            "oldestQueueMin": 120.0,
            "medianQueueMin": 45.0,
        }
    ]
    assert flow["wipAging"] == [{"upToHours": 24, "workOrders": 5}, {"upToHours": None, "workOrders": 1}]
    assert flow["throughput"] == [
        {"workCenterId": "CAST-1", "bucketStart": "2030-03-02T00:00:00+00:00", "operations": 9}
    ]
    assert flow["shipped"] == [{"bucketStart": "2030-03-02T00:00:00+00:00", "orders": 4}]
    assert flow["utilisation"] == [
        {
            "workCenterId": "CAST-1",
            "busyMin": 400.0,
            "availableMin": 450.0,
            "utilisation": 0.8889,
            "meanQueueMin": 50.0,
            "rank": 1,
            "constraintCandidate": True,
        }
    ]
    assert flow["littlesLaw"] == {
        "meanWip": 10.0,
        "throughputPerDay": 2.0,
        "meanFlowDays": 5.2,
        "deviation": 0.04,
        "steady": True,
        "completed": 14,
    }
    assert sent(analytics, "GetFlowAnalytics")[0].window.grain == pb.GRAIN_WEEK

    metal = data_of(await client.gql(METAL, WINDOW))["metalAnalytics"]
    assert metal["asOf"] == {"computedAt": "2030-03-09T08:30:00+00:00"}
    assert metal["byOperation"] == [
        {
            "operationCode": "CASTING",
            "alloyCode": "AU750Y",
            "operations": 6,
            "grossInMg": 60000,
            "lossMg": 900,
            "lossFineMg": 675,
            "lossPct": 1.5,
            "allowedMg": 1200,
            "excessMg": 50,
            "exceptions": 1,
        }
    ]
    assert metal["byOperator"] == [
        {
            "operatorCode": "OP-01",
            "operations": 6,
            "grossInMg": 60000,
            "lossMg": 900,
            "lossPct": 1.5,
            "allowedMg": 1200,
            "excessMg": 50,
        }
    ]
    assert metal["trend"] == [
        {
            "bucketStart": "2030-03-02T00:00:00+00:00",
            "grossInMg": 60000,
            "lossMg": 900,
            "lossPct": 1.5,
            "allowedMg": 1200,
        }
    ]
    pending, balanced = metal["custody"]
    assert pending["pendingMg"] == 4900 and pending["pendingFineMg"] == 3675
    assert pending["oldestOpenIssueTime"] == "2030-03-02T00:00:00+00:00"
    assert balanced["pendingMg"] == 0 and balanced["oldestOpenIssueTime"] is None
    assert sent(analytics, "GetMetalAnalytics")[0].window.grain == pb.GRAIN_DAY  # the default grain


async def test_a_time_without_an_offset_is_utc(client: FacadeClient, analytics: FakeAnalyticsBackend) -> None:
    data_of(await client.gql(VOLUME, {"from": "2030-03-02T00:00:00", "to": "2030-03-09T00:00:00"}))
    (request,) = sent(analytics, "GetPartnerAnalytics")
    assert request.window.from_time.ToDatetime(tzinfo=UTC) == START


# -- who may ask ---------------------------------------------------------------------------------------


async def test_an_operator_of_either_role_may_ask_and_pick_a_partner(analytics: FakeAnalyticsBackend) -> None:
    tokens = f"{OPERATOR_TOKEN}=OP-01:operator,sup-token=SUP-01:supervisor"
    async with running_app(analytics, _settings(MES_FACADE_OPERATOR_TOKENS=tokens)) as client:
        for token in (OPERATOR_TOKEN, "sup-token"):
            headers = {"Authorization": f"Bearer {token}"}
            answer = data_of(await client.gql(VOLUME, {**WINDOW, "partner": "partner-b"}, headers=headers))
            assert answer["partnerAnalytics"]["volume"] == [{"partnerId": "partner-b", "orders": 3}]
            assert data_of(await client.gql(FLOW, WINDOW, headers=headers))["flowAnalytics"]["littlesLaw"]["steady"]
            assert data_of(await client.gql(METAL, WINDOW, headers=headers))["metalAnalytics"]["custody"]
    assert {r.partner_id for r in sent(analytics, "GetPartnerAnalytics")} == {"partner-b"}


async def test_a_partner_sees_its_own_partner_analytics_only(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    own = data_of(await client.gql(VOLUME, WINDOW, headers=PARTNER_A))["partnerAnalytics"]
    assert own["volume"] == [{"partnerId": "partner-a", "orders": 3}]
    named = data_of(await client.gql(VOLUME, {**WINDOW, "partner": "partner-a"}, headers=PARTNER_A))
    assert named["partnerAnalytics"]["volume"] == own["volume"]
    assert {r.partner_id for r in sent(analytics, "GetPartnerAnalytics")} == {"partner-a"}

    analytics.reset_calls()
    other = error_of(await client.gql(VOLUME, {**WINDOW, "partner": "partner-b"}, headers=PARTNER_A))
    assert other["extensions"]["code"] == "FORBIDDEN" and other["path"] == ["partnerAnalytics"]
    for query, field in ((FLOW, "flowAnalytics"), (METAL, "metalAnalytics")):
        refused = error_of(await client.gql(query, WINDOW, headers=PARTNER_A))
        assert refused["extensions"]["code"] == "FORBIDDEN" and refused["path"] == [field]
    assert analytics.count("GetPartnerAnalytics", "GetFlowAnalytics", "GetMetalAnalytics") == {
        "GetPartnerAnalytics": 0,
        "GetFlowAnalytics": 0,
        "GetMetalAnalytics": 0,
    }


# -- bad input and failures ----------------------------------------------------------------------------


async def test_a_window_that_does_not_end_after_its_start_is_refused_before_the_service_is_called(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    for window in ({"from": TO, "to": FROM}, {"from": FROM, "to": FROM}):
        error = error_of(await client.gql(VOLUME, window))
        assert error["extensions"]["code"] == "INVALID_ARGUMENT"
        assert error["extensions"]["fieldViolations"] == [{"field": "to", "description": "must be after `from`"}]
    bad_partner = error_of(await client.gql(VOLUME, {**WINDOW, "partner": "not an id"}))
    assert bad_partner["extensions"]["fieldViolations"][0]["field"] == "partner"
    malformed = error_of(await client.gql(VOLUME, {"from": "yesterday", "to": TO}))
    assert malformed["extensions"]["code"] == "BAD_USER_INPUT"
    assert analytics.calls["GetPartnerAnalytics"] == 0


async def test_the_services_violations_are_named_after_the_arguments(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    violation = FieldViolation("window.grain", "a window of more than 400 buckets")
    analytics.fail["GetFlowAnalytics"] = client_error(
        InvalidArgumentError,
        grpc.StatusCode.INVALID_ARGUMENT,
        "too many buckets",
        reason="TOO_MANY_BUCKETS",
        violations=(violation,),
    )
    error = error_of(await client.gql(FLOW, WINDOW))
    assert error["message"] == "too many buckets"
    assert error["extensions"] == {
        "code": "INVALID_ARGUMENT",
        "reason": "TOO_MANY_BUCKETS",
        "fieldViolations": [{"field": "grain", "description": "a window of more than 400 buckets"}],
    }


async def test_an_unreachable_service_is_unavailable_and_retryable(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    analytics.fail["GetMetalAnalytics"] = client_error(UnavailableError, grpc.StatusCode.UNAVAILABLE, "down")
    error = error_of(await client.gql(METAL, WINDOW))
    assert error["extensions"]["code"] == "UNAVAILABLE" and error["extensions"]["retryable"] is True
    assert error["path"] == ["metalAnalytics"]


async def test_an_installation_without_the_service_says_so(analytics: FakeAnalyticsBackend) -> None:
    async with running_app(analytics, facade_settings()) as client:
        for query, field in ((VOLUME, "partnerAnalytics"), (FLOW, "flowAnalytics"), (METAL, "metalAnalytics")):
            error = error_of(await client.gql(query, WINDOW))
            assert error["extensions"]["code"] == "ANALYTICS_NOT_ENABLED" and error["path"] == [field]
    assert not sent(analytics, "GetPartnerAnalytics")


def test_the_service_address_comes_from_the_settings() -> None:
    assert facade_settings().analytics_addr is None
    settings = _settings()
    assert settings.analytics_addr == ANALYTICS_ADDR
    assert client_config(settings).address("analytics") == ANALYTICS_ADDR


# -- cost ------------------------------------------------------------------------------------------------


def test_each_analytics_field_costs_like_a_full_page() -> None:
    schema = build_schemas().operator._schema
    one = '{ partnerAnalytics(from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z") { volume { orders } } }'
    assert requested_cost(schema, parse(one), None, None) == ANALYTICS_COST + 1
    flat = '{ metalAnalytics(from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z") { asOf { computedAt } } }'
    assert requested_cost(schema, parse(flat), None, None) == ANALYTICS_COST + 1
    both = (
        '{ a: flowAnalytics(from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z") { shipped { orders } } '
        'b: flowAnalytics(from: "2030-01-01T00:00:00Z", to: "2030-01-03T00:00:00Z") { shipped { orders } } }'
    )
    assert requested_cost(schema, parse(both), None, None) == 2 * (ANALYTICS_COST + 1)


async def test_a_partner_is_charged_the_fields_cost(client: FacadeClient) -> None:
    body = (await client.gql(VOLUME, WINDOW, headers=PARTNER_A)).json()
    cost = body["extensions"]["cost"]
    # partnerAnalytics (100) + asOf (1) + volume (1)
    assert cost["requestedQueryCost"] == ANALYTICS_COST + 2 and cost["actualQueryCost"] == ANALYTICS_COST + 2


# -- the response cache -----------------------------------------------------------------------------------


def _lot_received(seq: int) -> EventEnvelope:
    payload = inv_ev.LotReceivedEvent().SerializeToString()
    return EventEnvelope("INVENTORY", seq, LOT_RECEIVED.subject, payload, datetime.now(UTC))


async def test_answers_live_for_the_analytics_ttl_and_no_event_touches_them(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    client.facade.hub.start_at({"ORDERS": 0, "INVENTORY": 0, "PRODUCTION": 0})
    first = await client.gql(VOLUME, WINDOW)
    client.facade.hub.publish(_lot_received(1))
    again = await client.gql(VOLUME, WINDOW)
    assert again.content == first.content
    assert analytics.calls["GetPartnerAnalytics"] == 1
    responses = client.facade.responses
    assert responses is not None
    (key,) = responses.table.keys()
    entry = responses.table.get(key, time.monotonic())
    assert entry is not None and entry.reads == frozenset({ANALYTICS}) and entry.stale_since is None
    assert entry.expires - entry.started == pytest.approx(300.0)


async def test_an_answer_that_also_reads_live_data_lives_as_long_as_its_shortest_part(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    mixed = """query($from: DateTime!, $to: DateTime!) { alloyBalances(first: 10) { nodes { materialCode onHandMg } }
      metalAnalytics(from: $from, to: $to) { byOperation { lossMg } } }"""
    client.facade.hub.start_at({"ORDERS": 0, "INVENTORY": 0, "PRODUCTION": 0})
    data_of(await client.gql(mixed, WINDOW))
    responses = client.facade.responses
    assert responses is not None
    (key,) = responses.table.keys()
    entry = responses.table.get(key, time.monotonic())
    assert entry is not None and entry.reads == frozenset({ANALYTICS, INVENTORY})
    assert entry.expires - entry.started == pytest.approx(60.0)
    client.facade.hub.publish(_lot_received(1))
    assert entry.stale_since is not None  # the balances moved: recomputed with the analytics


async def test_the_analytics_ttl_is_a_knob(analytics: FakeAnalyticsBackend) -> None:
    async with running_app(analytics, _settings(MES_FACADE_CACHE_ANALYTICS_TTL_S="30")) as client:
        data_of(await client.gql(VOLUME, WINDOW))
        responses = client.facade.responses
        assert responses is not None
        (key,) = responses.table.keys()
        entry = responses.table.get(key, time.monotonic())
        assert entry is not None and entry.expires - entry.started == pytest.approx(30.0)
    with pytest.raises(ValueError, match="MES_FACADE_CACHE_ANALYTICS_TTL_S"):
        CacheConfig.from_env({"MES_FACADE_CACHE_ANALYTICS_TTL_S": "soon"})
    with pytest.raises(ValueError, match="MES_FACADE_CACHE_ANALYTICS_TTL_S"):
        CacheConfig(analytics_ttl_s=0)


def test_the_response_cache_knows_every_analytics_field_and_type() -> None:
    from graphql_facade.response_cache import reads

    schema = build_schemas().operator._schema
    assert schema.query_type is not None
    roots = {name for name in schema.query_type.fields if name.endswith("Analytics")}
    assert roots == set(ANALYTICS_FIELDS) == set(reads._ANALYTICS_ROOTS)
    reachable: set[str] = set()
    todo = [get_named_type(schema.query_type.fields[name].type) for name in roots]
    while todo:
        kind = todo.pop()
        if isinstance(kind, GraphQLObjectType) and kind.name not in reachable:
            reachable.add(kind.name)
            todo.extend(get_named_type(field.type) for field in kind.fields.values())
    assert reachable == set(reads._ANALYTICS_TYPES)


def test_ttl_of_an_answer_follows_what_it_reads() -> None:
    config = CacheConfig(ttl_s=60, analytics_ttl_s=300)
    assert config.ttl_of(frozenset({ANALYTICS})) == 300
    assert config.ttl_of(frozenset({ANALYTICS, INVENTORY})) == 60
    assert config.ttl_of(frozenset({INVENTORY})) == 60
    assert config.ttl_of(frozenset({"*"})) == 60


async def test_answers_shared_between_replicas_keep_their_own_ttl() -> None:
    cache = open_cache(None)
    shared = SharedAnswers(cache, ttl_of=CacheConfig(ttl_s=60, analytics_ttl_s=300).ttl_of, lease_s=0)
    two_minutes_ago = time.time() - 120
    await shared.put("analytics", Stored(b"{}", 101, {"ORDERS": 1}, frozenset({ANALYTICS}), two_minutes_ago))
    await shared.put("board", Stored(b"{}", 3, {"ORDERS": 1}, frozenset({INVENTORY}), two_minutes_ago))
    kept = await shared.get("analytics")
    assert kept is not None and kept.cost == 101
    assert await shared.get("board") is None
    await cache.aclose()


async def test_an_operators_cached_answer_is_served_without_calling_the_service(
    client: FacadeClient, analytics: FakeAnalyticsBackend
) -> None:
    first = data_of(await client.gql(FLOW, WINDOW, headers=OPERATOR))
    for _ in range(5):
        assert data_of(await client.gql(FLOW, WINDOW, headers=OPERATOR)) == first
    assert analytics.calls["GetFlowAnalytics"] == 1


# -- both execution paths ---------------------------------------------------------------------------------


def _compiled_runs() -> float:
    return float(EXECUTIONS.labels("compiled")._value.get())


def _comparable(response: Any) -> dict[str, Any]:
    """The body without the bucket's refill (it depends on the time between the two requests)."""
    body: dict[str, Any] = response.json()
    status = body.get("extensions", {}).get("cost", {}).get("throttleStatus")
    if isinstance(status, dict):
        status.pop("currentlyAvailable", None)
    return body


async def test_compiled_plans_answer_what_strawberry_answers(analytics: FakeAnalyticsBackend) -> None:
    async with (
        running_app(analytics, _settings(MES_FACADE_CACHE="0")) as fast,
        running_app(analytics, _settings(MES_FACADE_CACHE="0", MES_FACADE_COMPILED="0")) as slow,
    ):
        cases = [
            (PARTNERS, {**WINDOW, "grain": "HOUR"}, OPERATOR),
            (PARTNERS, WINDOW, PARTNER_A),
            (FLOW, WINDOW, OPERATOR),
            (METAL, WINDOW, OPERATOR),
            (FLOW, WINDOW, PARTNER_A),  # FORBIDDEN on both
            (VOLUME, {"from": TO, "to": FROM}, OPERATOR),  # INVALID_ARGUMENT on both
        ]
        for query, variables, headers in cases:
            before = _compiled_runs()
            compiled = await fast.gql(query, variables, headers=headers)
            assert _compiled_runs() == before + 1, query
            generic = await slow.gql(query, variables, headers=headers)
            assert compiled.status_code == generic.status_code
            assert _comparable(compiled) == _comparable(generic), query
