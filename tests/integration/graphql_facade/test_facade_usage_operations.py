"""The partners' usage per operation, per error code and of ``submitOrder``, end to end: the facade app on
the real orders, inventory and production services (gRPC, SQLite, in process) publishes its minute to a
real NATS JetStream, read back from the FACADE stream."""

from __future__ import annotations

import uuid
from collections import Counter

from mes.facade.v1 import usage_events_pb2
from tests.integration.graphql_facade.conftest import facade_app
from tests.integration.graphql_facade.facade_stack import Stack, create_partner
from tests.integration.graphql_facade.test_facade_usage_nats import stored_events

STYLES = "query Styles { styles(first: 1) { nodes { sku } } }"
ALLOYS = "{ alloys(first: 1) { nodes { code } } }"  # anonymous
BROKEN = "query Broken { styles(first: 1) { nodes { nope } } }"
# `replayed` is not selected: the count does not depend on it.
SUBMIT = """mutation Submit($input: SubmitOrderInput!, $key: String!) {
  submitOrder(input: $input, idempotencyKey: $key) { order { id } } }"""
ORDER_INPUT = {
    "partnerReference": "PO-1",
    "dueTime": "2031-06-01T12:00:00+00:00",
    "lines": [{"styleCode": "RNG-SOL-001", "alloyCode": "AU750Y", "quantity": 1, "size": "52"}],
}


def added_up(events: list[usage_events_pb2.PartnerUsageRecordedEvent]) -> dict[str, object]:
    """One partner's events added up (its requests may straddle a minute)."""
    operations: Counter[tuple[str, str]] = Counter()
    codes: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for event in events:
        for op in event.operations:
            operations[(op.operation, "requests")] += op.requests
            operations[(op.operation, "errors")] += op.errors
            assert sum(op.latency_bucket_counts) == op.requests
            assert len(op.latency_bucket_counts) == len(event.latency_bucket_bounds_ms) + 1
        for count in event.error_codes:
            codes[count.code] += count.count
        for name in ("requests", "errors_4xx", "submissions", "replays", "key_reused"):
            totals[name] += getattr(event, name)
    return {"totals": dict(totals), "operations": dict(operations), "codes": dict(codes)}


async def test_operations_errors_and_a_replayed_submission_are_in_the_published_event(
    stack: Stack, nats_url: str
) -> None:
    acme = {"X-API-Key": await create_partner(stack, "acme")}
    instance = f"usage-ops-{uuid.uuid4().hex[:8]}"
    key = uuid.uuid4().hex
    async with facade_app(stack.facade_settings(NATS_URL=nats_url, MES_INSTANCE=instance)) as f:
        assert f.facade.usage is not None
        assert (await f.gql(STYLES, headers=acme)).json()["data"]["styles"]["nodes"]
        assert (await f.gql(ALLOYS, headers=acme)).json()["data"]["alloys"]["nodes"]
        broken = await f.gql(BROKEN, headers=acme)
        assert broken.status_code == 400
        assert broken.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        first = (await f.gql(SUBMIT, {"input": ORDER_INPUT, "key": key}, headers=acme)).json()
        again = (await f.gql(SUBMIT, {"input": ORDER_INPUT, "key": key}, headers=acme)).json()
        assert "errors" not in first and again["data"] == first["data"]  # the replay answers the same order
        changed = {**ORDER_INPUT, "partnerReference": "PO-2"}
        reused = (await f.gql(SUBMIT, {"input": changed, "key": key}, headers=acme)).json()
        assert reused["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # The app stopped: the minute in progress was published on the way out.
    events = [stored.event for stored in await stored_events(nats_url, instance)]
    assert events and {event.partner_id for event in events} == {"acme"}
    assert added_up(events) == {
        "totals": {"requests": 6, "errors_4xx": 1, "submissions": 3, "replays": 1, "key_reused": 1},
        "operations": {
            ("Styles", "requests"): 1,
            ("Styles", "errors"): 0,
            ("other", "requests"): 1,
            ("other", "errors"): 0,
            ("Broken", "requests"): 1,
            ("Broken", "errors"): 1,
            ("Submit", "requests"): 3,
            ("Submit", "errors"): 1,
        },
        "codes": {"GRAPHQL_VALIDATION_FAILED": 1, "IDEMPOTENCY_KEY_REUSED": 1},
    }
