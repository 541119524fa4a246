"""Back-off schedules (pure)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DEFAULT_REDELIVERY_BACKOFF", "Backoff", "exponential_delay", "redelivery_delay", "server_backoff"]

#: Delays (seconds) between redeliveries of a message whose handler failed.
DEFAULT_REDELIVERY_BACKOFF: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0, 60.0)


def exponential_delay(attempt: int, *, initial: float = 0.1, factor: float = 2.0, cap: float = 5.0) -> float:
    """Delay before retry number ``attempt`` (1-based): ``initial * factor**(attempt-1)``, at most ``cap``."""
    if attempt < 1:
        return 0.0
    # Stop multiplying once past the cap so huge attempt numbers never overflow.
    delay = initial
    for _ in range(attempt - 1):
        delay *= factor
        if delay >= cap:
            return cap
    return min(delay, cap)


class Backoff:
    """Stateful exponential back-off for retry-forever loops: ``next()`` then ``reset()`` on success."""

    def __init__(self, *, initial: float = 0.1, factor: float = 2.0, cap: float = 5.0) -> None:
        if initial <= 0 or factor < 1 or cap < initial:
            raise ValueError("back-off needs initial > 0, factor >= 1 and cap >= initial")
        self.initial, self.factor, self.cap = initial, factor, cap
        self.attempts = 0

    def next(self) -> float:
        self.attempts += 1
        return exponential_delay(self.attempts, initial=self.initial, factor=self.factor, cap=self.cap)

    def reset(self) -> None:
        self.attempts = 0


def redelivery_delay(backoff: Sequence[float], num_delivered: int) -> float:
    """Delay of the NAK after delivery number ``num_delivered`` (1-based) failed.

    The first failure waits ``backoff[0]``, the second ``backoff[1]``, ...; past the end of
    the list the last value repeats. An empty list means no delay.
    """
    if not backoff:
        return 0.0
    index = min(max(num_delivered, 1), len(backoff)) - 1
    return float(backoff[index])


def server_backoff(backoff: Sequence[float], *, ack_wait: float, max_deliver: int) -> list[float]:
    """The consumer's server-side ``BackOff`` list (redelivery after an ack timeout).

    JetStream replaces ``AckWait`` by ``BackOff[0]`` when a back-off list is set, so every
    value is raised to at least ``ack_wait`` (a slow but alive handler must not see its
    message redelivered to another replica), and the list may not be longer than
    ``max_deliver``. Handler failures use ``redelivery_delay`` with NAK instead.
    """
    if ack_wait <= 0:
        raise ValueError("ack_wait must be > 0")
    values = [max(float(d), ack_wait) for d in backoff] or [ack_wait]
    return values[: max(max_deliver, 1)]
