"""Opening gRPC channels from a :class:`ClientConfig`."""

from __future__ import annotations

from pathlib import Path

import grpc

from clients._config import ClientConfig, ServiceName

__all__ = ["open_channel"]

_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def _options(config: ClientConfig) -> list[tuple[str, str | int]]:
    return [
        ("grpc.primary_user_agent", config.user_agent),
        ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
    ]


def open_channel(config: ClientConfig, service: ServiceName) -> grpc.aio.Channel:
    """An insecure channel, or a TLS one when ``config.tls`` / ``config.tls_ca_file`` is set."""
    target = config.address(service)
    if not config.use_tls:
        return grpc.aio.insecure_channel(target, options=_options(config))
    root = Path(config.tls_ca_file).read_bytes() if config.tls_ca_file else None
    credentials = grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.aio.secure_channel(target, credentials, options=_options(config))
