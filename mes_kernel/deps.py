"""The dependency bag every service's use cases receive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from mes_kernel.clock import utcnow
from mes_kernel.paging import PageTokens

__all__ = ["Clock", "Deps"]

F = TypeVar("F")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Deps(Generic[F]):
    """What a use case needs from outside: its units of work (``F``, the service's
    :class:`~mes_kernel.uow.UnitOfWorkFactory`), the page-token signer and a clock."""

    uows: F
    tokens: PageTokens
    clock: Clock = utcnow
