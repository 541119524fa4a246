"""The facade's fake backend signs operators in like the production service: the same errors and
reasons for a wrong password, a closed session and too many failures, through the real clients."""

from __future__ import annotations

import pytest

from clients import InvalidArgumentError, NotFoundError, ResourceExhaustedError, UnauthenticatedError
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.fake_clock import FakeClock

PASSWORD = "operator-demo-pass"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000_000.0)


@pytest.fixture
def backend(clock: FakeClock) -> FakeBackend:
    fake = FakeBackend()
    fake.clock = clock
    fake.add_operator("OP-1", PASSWORD)
    fake.add_operator("SUP-1", supervisor=True)
    return fake


async def test_sign_in_check_and_sign_out(backend: FakeBackend) -> None:
    signed_in = await backend.production.sign_in(operator_code="OP-1", password=PASSWORD, client_address="a")
    assert signed_in.operator.code == "OP-1" and signed_in.expire_time.seconds == 1_000_000 + 12 * 3600
    assert (await backend.production.check_session(signed_in.session_token)).operator.code == "OP-1"
    await backend.production.sign_out(signed_in.session_token)
    await backend.production.sign_out(signed_in.session_token)
    with pytest.raises(UnauthenticatedError) as err:
        await backend.production.check_session(signed_in.session_token)
    assert err.value.reason == "SESSION_CLOSED"


async def test_failures_passwords_disabled_operators_and_expiry(backend: FakeBackend, clock: FakeClock) -> None:
    for code, password in (("OP-1", "wrong password"), ("SUP-1", PASSWORD), ("NOBODY", PASSWORD)):
        with pytest.raises(UnauthenticatedError) as err:
            await backend.production.sign_in(operator_code=code, password=password)
        assert (err.value.reason, err.value.message) == ("SIGN_IN_FAILED", "operator code or password is wrong")
    with pytest.raises(InvalidArgumentError):
        await backend.production.set_operator_password("operators/SUP-1", password="short")
    with pytest.raises(NotFoundError):
        await backend.production.set_operator_password("operators/NOBODY", password=PASSWORD)
    token = (await backend.production.sign_in(operator_code="OP-1", password=PASSWORD)).session_token
    await backend.production.set_operator_password("operators/SUP-1", password="supervisor-demo-pass")
    assert (await backend.production.sign_in(operator_code="SUP-1", password="supervisor-demo-pass")).session_token
    backend.operators["OP-1"].active = False
    with pytest.raises(UnauthenticatedError):
        await backend.production.check_session(token)
    backend.operators["OP-1"].active = True
    clock.now += 12 * 3600
    with pytest.raises(UnauthenticatedError):
        await backend.production.check_session(token)


async def test_five_failures_of_a_code_are_throttled(backend: FakeBackend, clock: FakeClock) -> None:
    for _ in range(5):
        with pytest.raises(UnauthenticatedError):
            await backend.production.sign_in(operator_code="OP-1", password="wrong password")
        clock.now += 60
    with pytest.raises(ResourceExhaustedError) as err:
        await backend.production.sign_in(operator_code="OP-1", password=PASSWORD)
    assert (err.value.reason, err.value.metadata) == ("SIGN_IN_THROTTLED", {"retry_after_s": str(600)})
    clock.now += 600
    assert (await backend.production.sign_in(operator_code="OP-1", password=PASSWORD)).session_token
