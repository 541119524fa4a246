"""The HTTP sender's address checks at every delivery, on httpx's in-memory transport (no network).

The host is resolved at every attempt and every address it resolves to is checked; the request
goes to the checked address itself, with the host name in ``Host`` and as the TLS server name --
so a DNS answer that turns private (rebinding) is refused, and one that changes after the check
cannot take the connection elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import httpx

from services.webhooks.adapters.http_sender import HttpSender, SenderLimits
from services.webhooks.domain.addresses import IPAddress
from services.webhooks.service_layer.ports import Outbound

PUBLIC = "93.184.216.34"


class Resolver:
    """Answers from a script, one answer per lookup (the last one repeats)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = [list(a) for a in answers]
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [ipaddress.ip_address(a) for a in answer]


class Recorder:
    def __init__(self, status: int = 200, body: bytes = b"ok", headers: dict[str, str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.body, self.headers = status, body, headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, stream=httpx.ByteStream(self.body), headers=self.headers)


def _sender(resolver: Resolver, recorder: Recorder, *, allow_private: bool = False, **limits: int) -> HttpSender:
    return HttpSender(
        allow_private=allow_private,
        limits=SenderLimits(**limits),  # type: ignore[arg-type]
        resolve=resolver,
        transport=httpx.MockTransport(recorder),
    )


def _post(url: str = "https://hooks.example.com/in?x=1") -> Outbound:
    return Outbound("ep_1", url, b'{"a":1}', {"webhook-id": "msg_1"})


async def test_the_request_goes_to_the_checked_address_with_the_host_name_in_host_and_sni() -> None:
    recorder = Recorder(204)
    sender = _sender(Resolver([PUBLIC]), recorder)
    result = await sender.send(_post())
    await sender.aclose()
    assert (result.status, result.error) == (204, "")
    (request,) = recorder.requests
    assert str(request.url) == f"https://{PUBLIC}/in?x=1"
    assert request.headers["host"] == "hooks.example.com" and request.headers["webhook-id"] == "msg_1"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


async def test_an_answer_that_turns_private_is_refused_at_the_next_delivery() -> None:
    resolver = Resolver([PUBLIC], ["10.0.0.7"], ["127.0.0.1"], ["::ffff:169.254.169.254"])
    recorder = Recorder()
    sender = _sender(resolver, recorder)
    assert (await sender.send(_post())).status == 200
    for _ in range(3):
        refused = await sender.send(_post())
        assert refused.status == 0 and refused.error.startswith("address not allowed: hooks.example.com resolves to")
    await sender.aclose()
    assert len(resolver.lookups) == 4 and len(recorder.requests) == 1  # resolved every time, sent once


async def test_one_private_address_among_public_ones_refuses_the_delivery() -> None:
    recorder = Recorder()
    sender = _sender(Resolver([PUBLIC, "192.168.1.10"]), recorder)
    result = await sender.send(_post())
    await sender.aclose()
    assert "192.168.1.10" in result.error and recorder.requests == []


async def test_the_development_flag_lets_loopback_through() -> None:
    recorder = Recorder()
    sender = _sender(Resolver(["127.0.0.1"]), recorder, allow_private=True)
    result = await sender.send(_post("http://receiver.local:8080/hook"))
    await sender.aclose()
    assert result.status == 200 and str(recorder.requests[0].url) == "http://127.0.0.1:8080/hook"
    assert recorder.requests[0].headers["host"] == "receiver.local:8080"


async def test_redirects_are_not_followed_and_count_as_failures() -> None:
    recorder = Recorder(302, headers={"location": "https://10.0.0.1/steal"})
    sender = _sender(Resolver([PUBLIC]), recorder)
    result = await sender.send(_post())
    await sender.aclose()
    assert result.status == 302 and "redirects are not followed" in result.error and len(recorder.requests) == 1


async def test_a_large_answer_is_read_up_to_the_cap_only() -> None:
    recorder = Recorder(200, body=b"x" * 1_000_000)
    sender = _sender(Resolver([PUBLIC]), recorder, max_response_bytes=1024)
    result = await sender.send(_post())
    await sender.aclose()
    assert (result.status, result.error) == (200, "")


async def test_an_endpoint_url_outside_the_rules_is_not_sent() -> None:
    recorder = Recorder()
    resolver = Resolver([PUBLIC])
    sender = _sender(resolver, recorder)
    result = await sender.send(_post("http://hooks.example.com/"))
    await sender.aclose()
    assert "invalid endpoint URL" in result.error and resolver.lookups == [] and recorder.requests == []


async def test_failures_are_answers_not_exceptions() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sender = HttpSender(allow_private=False, resolve=Resolver([PUBLIC]), transport=httpx.MockTransport(broken))
    result = await sender.send(_post())
    await sender.aclose()
    assert result.status == 0 and result.error == "cannot connect: connection refused"
    unresolvable = HttpSender(allow_private=False, resolve=_no_such_host)
    result = await unresolvable.send(_post())
    assert result.error.startswith("cannot resolve hooks.example.com")


async def _no_such_host(host: str, port: int) -> list[IPAddress]:
    raise OSError(f"Name or service not known: {host}")
