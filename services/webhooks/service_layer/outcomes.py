"""What a batch of attempts does to deliveries, endpoints and the delivery log (no I/O).

For each attempt, in the order they finished:

* 2xx -> DELIVERED; the endpoint's run of failures ends;
* a failure -> the endpoint's run of failures starts (or goes on); once it has lasted
  ``disable_after`` the endpoint is disabled and the partner told in the log; the delivery is a
  DEAD letter once retried for ``retry_for`` (told in the log), else HELD when its endpoint is
  disabled, else PENDING again after the back-off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.webhooks.domain.delivery import AttemptResult, DeliveryState
from services.webhooks.domain.endpoint import Endpoint
from services.webhooks.domain.log import LogEntry, LogKind, attempt_entry, notice
from services.webhooks.service_layer.commands import WebhookPolicy
from services.webhooks.service_layer.ports import Completion

__all__ = ["Settlement", "settle"]


@dataclass
class Settlement:
    completions: list[Completion] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    #: endpoint id -> its new ``failing_since`` (only those that changed and stay enabled).
    failing: dict[str, datetime | None] = field(default_factory=dict)
    #: Endpoints this batch disabled (save them, hold their pending deliveries).
    disabled: list[Endpoint] = field(default_factory=list)


def settle(
    results: Sequence[AttemptResult],
    endpoints: Mapping[str, Endpoint],
    policy: WebhookPolicy,
    random_unit: Callable[[], float],
) -> Settlement:
    """The writes for ``results``; ``endpoints`` are the current ones (a missing one was deleted:
    its attempts leave no log). Endpoints are changed in place."""
    out = Settlement()
    for result in sorted(results, key=lambda r: r.finished_at):
        endpoint = endpoints.get(result.endpoint_id)
        if endpoint is not None:
            out.log.append(attempt_entry(result))
        if result.ok:
            out.completions.append(
                Completion(
                    result.seq,
                    DeliveryState.DELIVERED,
                    result.finished_at,
                    result.window_start,
                    result.http_status,
                    "",
                    delivered_at=result.finished_at,
                )
            )
            if endpoint is not None and endpoint.record_success():
                out.failing[endpoint.endpoint_id] = None
            continue
        if endpoint is not None:
            was = endpoint.failing_since
            if endpoint.record_failure(result.finished_at, policy.disable_after):
                out.disabled.append(endpoint)
                out.failing.pop(endpoint.endpoint_id, None)
                message = f"{endpoint.disabled_reason}; its events are kept until it is enabled again"
                kind, at = LogKind.ENDPOINT_DISABLED, result.finished_at
                out.log.append(notice(endpoint.endpoint_id, endpoint.partner_id, kind, at, message))
            elif endpoint.failing_since != was:
                out.failing[endpoint.endpoint_id] = endpoint.failing_since
        out.completions.append(_failed(result, endpoint, policy, random_unit, out.log))
    return out


def _failed(
    result: AttemptResult,
    endpoint: Endpoint | None,
    policy: WebhookPolicy,
    random_unit: Callable[[], float],
    log: list[LogEntry],
) -> Completion:
    at = result.finished_at
    if policy.retry.exhausted(result.window_start, at):
        if endpoint is not None:
            hours = policy.retry.retry_for.total_seconds() / 3600
            message = f"no success in {result.attempt} attempts over {hours:g} h: a dead letter (replay to send again)"
            log.append(
                notice(
                    endpoint.endpoint_id, endpoint.partner_id, LogKind.DEAD_LETTER, at, message,
                    delivery_id=result.delivery_id,
                )
            )  # fmt: skip
        return Completion(result.seq, DeliveryState.DEAD, at, result.window_start, result.http_status, result.error)
    if endpoint is None or not endpoint.enabled:
        return Completion(result.seq, DeliveryState.HELD, at, result.window_start, result.http_status, result.error)
    next_at = at + policy.retry.delay(result.attempt, random_unit())
    return Completion(
        result.seq,
        DeliveryState.PENDING,
        at,
        result.window_start,
        result.http_status,
        result.error,
        next_attempt_at=next_at,
    )
