"""The HTTP sender against a real TLS receiver on loopback: it connects to the checked address
and verifies the certificate for the endpoint's host name (TLS server name), not for the address."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.webhooks.adapters.http_sender import HttpSender, SenderLimits
from services.webhooks.domain.addresses import IPAddress
from services.webhooks.domain.endpoint import Endpoint, EventType
from services.webhooks.domain.signing import new_secret
from services.webhooks.service_layer.dispatcher import signed_headers
from services.webhooks.service_layer.ports import Outbound
from tests._infra.tls import self_signed_certificate
from tests.integration.webhooks._receiver import Receiver


async def _to_loopback(host: str, port: int) -> list[IPAddress]:
    return [ipaddress.ip_address("127.0.0.1")]


@pytest.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[Receiver, Path]]:
    cert, key = self_signed_certificate(
        tmp_path, common_name="hooks.example", dns_names=("hooks.example",), ip_addresses=()
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = await Receiver(ssl_context=context).start()
    try:
        yield receiver, cert
    finally:
        await receiver.close()


def _request(receiver: Receiver, host: str, secret: str) -> Outbound:
    now = datetime.now(UTC)
    endpoint = Endpoint.create("acme", receiver.url("/tls", host), "", frozenset({EventType.ORDER_STATUS_CHANGED}), now)
    endpoint.secret = secret
    body = b'{"type":"order.status_changed"}'
    return Outbound("ep_tls", endpoint.url, body, signed_headers(endpoint, "msg_tls", body, now))


async def test_the_certificate_is_verified_for_the_host_name_while_connecting_to_the_checked_address(
    tls_receiver: tuple[Receiver, Path],
) -> None:
    receiver, cert = tls_receiver
    secret = new_secret()
    route = receiver.route("/tls", [secret])
    trust = ssl.create_default_context(cafile=str(cert))
    sender = HttpSender(allow_private=True, resolve=_to_loopback, verify=trust)
    result = await sender.send(_request(receiver, "hooks.example", secret))
    refused = await sender.send(_request(receiver, "other.example", secret))
    await sender.aclose()
    assert (result.status, result.error) == (200, "")
    assert [d.headers["host"] for d in route.processed] == [f"hooks.example:{receiver.port}"]
    assert refused.status == 0 and "cannot connect" in refused.error  # the certificate names another host


async def test_a_receiver_that_never_answers_is_cut_at_the_attempts_time_limit(
    tls_receiver: tuple[Receiver, Path],
) -> None:
    receiver, cert = tls_receiver
    secret = new_secret()
    route = receiver.route("/tls", [secret], hang=True)
    limits = SenderLimits(connect_timeout_s=1, read_timeout_s=5, total_timeout_s=0.5)
    sender = HttpSender(
        allow_private=True, resolve=_to_loopback, verify=ssl.create_default_context(cafile=str(cert)), limits=limits
    )
    result = await sender.send(_request(receiver, "hooks.example", secret))
    await sender.aclose()
    assert result.status == 0 and result.error == "no answer within 0.5 s"
    assert route.in_progress == 1 and route.processed == []
