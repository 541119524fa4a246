"""What finished attempts do to deliveries, endpoints and the delivery log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.webhooks.domain.delivery import AttemptResult, DeliveryState, RetryPolicy
from services.webhooks.domain.endpoint import DisabledBy, Endpoint, EventType
from services.webhooks.domain.log import LogKind
from services.webhooks.service_layer.commands import WebhookPolicy
from services.webhooks.service_layer.outcomes import settle

T0 = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = WebhookPolicy(disable_after=timedelta(days=3), retry=RetryPolicy(retry_for=timedelta(hours=24)))


def _endpoint() -> Endpoint:
    endpoint = Endpoint.create("acme", "https://h.example/", "", frozenset({EventType.ORDER_STATUS_CHANGED}), T0)
    endpoint.endpoint_id = "ep_1"
    return endpoint


def _result(seq: int, at: datetime, status: int, *, window: datetime = T0, attempt: int = 1) -> AttemptResult:
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return AttemptResult(
        seq, f"msg_{seq}", "ep_1", "acme", EventType.ORDER_STATUS_CHANGED, attempt, window, at, at, status, 12, error
    )


def test_a_2xx_is_delivered_and_ends_the_run_of_failures() -> None:
    endpoint = _endpoint()
    endpoint.failing_since = T0
    out = settle([_result(1, T0 + timedelta(minutes=1), 204)], {"ep_1": endpoint}, POLICY, lambda: 0.5)
    (done,) = out.completions
    assert done.state is DeliveryState.DELIVERED and done.delivered_at == T0 + timedelta(minutes=1)
    assert out.failing == {"ep_1": None} and [e.kind for e in out.log] == [LogKind.ATTEMPT]


def test_a_failure_is_retried_after_the_back_off_and_starts_the_run_of_failures() -> None:
    endpoint = _endpoint()
    at = T0 + timedelta(seconds=1)
    out = settle([_result(1, at, 500, attempt=3)], {"ep_1": endpoint}, POLICY, lambda: 0.5)
    (retry,) = out.completions
    assert retry.state is DeliveryState.PENDING and retry.next_attempt_at == at + timedelta(seconds=20)
    assert out.failing == {"ep_1": at} and out.log[0].error == "HTTP 500" and out.log[0].attempt == 3


def test_a_failure_after_the_retry_window_is_a_dead_letter_told_in_the_log() -> None:
    out = settle([_result(1, T0 + timedelta(hours=24), 500)], {"ep_1": _endpoint()}, POLICY, lambda: 0.5)
    assert out.completions[0].state is DeliveryState.DEAD
    assert [e.kind for e in out.log] == [LogKind.ATTEMPT, LogKind.DEAD_LETTER]


def test_the_failure_that_completes_three_days_disables_the_endpoint_and_holds_the_delivery() -> None:
    endpoint = _endpoint()
    endpoint.failing_since = T0
    late = T0 + timedelta(days=3)
    out = settle([_result(7, late, 502, window=late)], {"ep_1": endpoint}, POLICY, lambda: 0.5)
    assert out.disabled == [endpoint] and endpoint.disabled_by is DisabledBy.FAILURES
    assert out.completions[0].state is DeliveryState.HELD
    assert [e.kind for e in out.log] == [LogKind.ATTEMPT, LogKind.ENDPOINT_DISABLED]
    assert "kept until it is enabled again" in out.log[1].message


def test_attempts_for_a_deleted_endpoint_leave_no_log() -> None:
    out = settle([_result(1, T0, 500)], {}, POLICY, lambda: 0.5)
    assert out.log == [] and out.completions[0].state is DeliveryState.HELD
