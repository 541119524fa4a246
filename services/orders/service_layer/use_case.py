"""The base of the orders use-case groups: what they take from the dependency bag."""

from __future__ import annotations

from services.orders.service_layer.ports import OrdersDeps

__all__ = ["UseCase"]


class UseCase:
    """A group of use cases on the service's units of work, page-token signer and clock."""

    def __init__(self, deps: OrdersDeps) -> None:
        self._uows = deps.uows
        self._tokens = deps.tokens
        self._clock = deps.clock
