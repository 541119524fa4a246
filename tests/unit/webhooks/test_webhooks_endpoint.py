"""An endpoint's rules: disabled after failing for ``disable_after``, rotation overlap, enabling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.webhooks.domain.endpoint import DisabledBy, Endpoint, EventType

T0 = datetime(2030, 1, 1, tzinfo=UTC)
THREE_DAYS = timedelta(days=3)


def _endpoint() -> Endpoint:
    return Endpoint.create("acme", "https://hooks.example.com/", "", frozenset({EventType.ORDER_STATUS_CHANGED}), T0)


def test_an_endpoint_failing_for_three_days_is_disabled_by_the_failure_that_reaches_them() -> None:
    endpoint = _endpoint()
    assert not endpoint.record_failure(T0, THREE_DAYS)
    assert endpoint.failing_since == T0
    assert not endpoint.record_failure(T0 + timedelta(days=2, hours=23), THREE_DAYS)
    assert endpoint.enabled and endpoint.version == 1  # the failure record is not a change of the endpoint
    assert endpoint.record_failure(T0 + THREE_DAYS, THREE_DAYS)
    assert not endpoint.enabled and endpoint.disabled_by is DisabledBy.FAILURES
    assert "since 2030-01-01 00:00:00Z" in endpoint.disabled_reason and endpoint.version == 2
    assert not endpoint.record_failure(T0 + THREE_DAYS + timedelta(hours=1), THREE_DAYS)  # already disabled


def test_a_success_ends_the_run_of_failures() -> None:
    endpoint = _endpoint()
    endpoint.record_failure(T0, THREE_DAYS)
    assert endpoint.record_success() and endpoint.failing_since is None
    assert not endpoint.record_failure(T0 + timedelta(days=4), THREE_DAYS)  # a new run starts here
    assert endpoint.enabled and endpoint.failing_since == T0 + timedelta(days=4)


def test_enabling_starts_a_clean_record_and_a_new_url_too() -> None:
    endpoint = _endpoint()
    endpoint.record_failure(T0, THREE_DAYS)
    endpoint.record_failure(T0 + THREE_DAYS, THREE_DAYS)
    assert endpoint.enable(T0 + timedelta(days=4)) and endpoint.failing_since is None
    assert endpoint.disabled_by is None and endpoint.disabled_reason == "" and not endpoint.enable(T0)
    endpoint.record_failure(T0 + timedelta(days=5), THREE_DAYS)
    assert endpoint.update(T0 + timedelta(days=5), url="https://new.example.com/")
    assert endpoint.failing_since is None
    assert not endpoint.update(T0 + timedelta(days=5), url="https://new.example.com/")  # nothing changed


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends() -> None:
    endpoint = _endpoint()
    old = endpoint.secret
    assert endpoint.signing_secrets(T0) == [old]
    new = endpoint.rotate_secret(T0, timedelta(hours=24))
    assert new != old and endpoint.secret == new
    assert endpoint.signing_secrets(T0 + timedelta(hours=23, minutes=59)) == [new, old]
    assert endpoint.signing_secrets(T0 + timedelta(hours=24)) == [new]
    newest = endpoint.rotate_secret(T0 + timedelta(hours=1), timedelta(hours=24))
    assert endpoint.signing_secrets(T0 + timedelta(hours=2)) == [newest, new]  # the oldest is dropped


def test_disabling_keeps_the_first_reason() -> None:
    endpoint = _endpoint()
    assert endpoint.disable(DisabledBy.PARTNER, "maintenance", T0)
    assert not endpoint.disable(DisabledBy.OPERATOR, "other", T0)
    assert (endpoint.disabled_by, endpoint.disabled_reason) == (DisabledBy.PARTNER, "maintenance")
