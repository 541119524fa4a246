"""Settings of a service that :data:`mes_platform.config.DEFAULT_PORTS` does not list: its gRPC
port, when ``GRPC_PORT`` is not set, is a number of its own."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Self

from mes_platform.config import ServiceSettings

__all__ = ["OwnPortSettings"]


@dataclass(frozen=True)
class OwnPortSettings(ServiceSettings):
    """``ServiceSettings`` whose gRPC port defaults to :attr:`default_port`."""

    #: The gRPC port when ``GRPC_PORT`` is not set.
    default_port: ClassVar[int] = 0

    @classmethod
    def of(cls, base: ServiceSettings) -> Self:
        """As for every service; the gRPC port defaults to :attr:`default_port`."""
        settings = super().of(base)
        if settings.grpc_port == 0 and "GRPC_PORT" not in base.knobs:
            return replace(settings, grpc_port=cls.default_port)
        return settings
