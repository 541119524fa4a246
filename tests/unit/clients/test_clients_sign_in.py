"""The production client's sign-in calls: requests built from keywords, every call with a deadline,
a sign-in never sent twice, a session check and a sign-out retried when the server went away, and
a refused sign-in's wait readable from the error."""

from __future__ import annotations

import grpc
import pytest

from clients import ClientConfig, ProductionClient, ResourceExhaustedError, RetryPolicy, UnavailableError
from mes.production.v1 import production_pb2 as pb
from tests.unit.clients.clients_fakes import FakeChannel, plain_error, rich_error

C = grpc.StatusCode
FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.002)


def _client(channel: FakeChannel) -> ProductionClient:
    return ProductionClient(ClientConfig(retry=FAST, deadline_s=7.0), channel=channel)  # type: ignore[arg-type]


async def test_the_calls_build_their_requests_and_carry_a_deadline() -> None:
    operator = pb.Operator(name="operators/OP-1", code="OP-1")
    channel = FakeChannel(
        {
            "SetOperatorPassword": lambda r: pb.SetOperatorPasswordResponse(operator=operator),
            "SignIn": lambda r: pb.SignInResponse(session_token="tok", operator=operator),
            "CheckSession": lambda r: pb.CheckSessionResponse(operator=operator),
            "SignOut": lambda r: pb.SignOutResponse(),
        }
    )
    client = _client(channel)
    assert (await client.set_operator_password("operators/OP-1", password="twelve chars!")).code == "OP-1"
    signed_in = await client.sign_in(operator_code="OP-1", password="twelve chars!", client_address="ipv4:1.2.3.4:5")
    assert signed_in.session_token == "tok"
    assert (await client.check_session("tok")).operator.code == "OP-1"
    assert await client.sign_out("tok") is None
    requests = [call.request for call in channel.calls]
    assert requests == [
        pb.SetOperatorPasswordRequest(name="operators/OP-1", password="twelve chars!"),
        pb.SignInRequest(operator_code="OP-1", password="twelve chars!", client_address="ipv4:1.2.3.4:5"),
        pb.CheckSessionRequest(session_token="tok"),
        pb.SignOutRequest(session_token="tok"),
    ]
    assert all(call.timeout is not None and 0 < call.timeout <= 7.0 for call in channel.calls)


async def test_a_sign_in_is_not_sent_twice_but_a_check_and_a_sign_out_are() -> None:
    gone = plain_error(C.UNAVAILABLE, "connection refused")
    channel = FakeChannel(
        {
            "SignIn": [gone, pb.SignInResponse(session_token="never")],
            "CheckSession": [gone, pb.CheckSessionResponse()],
            "SignOut": [gone, pb.SignOutResponse()],
        }
    )
    client = _client(channel)
    with pytest.raises(UnavailableError):
        await client.sign_in(operator_code="OP-1", password="twelve chars!")
    await client.check_session("tok")
    await client.sign_out("tok")
    assert channel.methods() == ["SignIn", "CheckSession", "CheckSession", "SignOut", "SignOut"]


async def test_a_refused_sign_in_says_how_long_to_wait() -> None:
    refused = rich_error(
        C.RESOURCE_EXHAUSTED, "too many", reason="SIGN_IN_THROTTLED", metadata={"retry_after_s": "120"}
    )
    with pytest.raises(ResourceExhaustedError) as err:
        await _client(FakeChannel({"SignIn": [refused]})).sign_in(operator_code="OP-1", password="x")
    assert (err.value.reason, err.value.metadata["retry_after_s"]) == ("SIGN_IN_THROTTLED", "120")
