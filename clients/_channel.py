"""The one factory of gRPC channels: every option comes from a :class:`ClientConfig`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc

from clients._config import ClientConfig, ServiceName

__all__ = ["open_channel"]


def open_channel(
    config: ClientConfig,
    service: ServiceName,
    *,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> grpc.aio.Channel:
    """A channel to ``service``: insecure, or TLS when ``config.tls`` / ``config.tls_ca_file`` is set.

    The options (user agent, message size, keepalive, load balancing) are ``config.channel_options()``;
    ``interceptors`` run on every call of the channel (tests count calls per method with one).
    """
    target = config.address(service)
    options = config.channel_options()
    chain = list(interceptors) or None
    if not config.use_tls:
        return grpc.aio.insecure_channel(target, options=options, interceptors=chain)
    root = Path(config.tls_ca_file).read_bytes() if config.tls_ca_file else None
    credentials = grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=chain)
