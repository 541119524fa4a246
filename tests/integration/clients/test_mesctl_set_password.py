"""``mesctl production set-password`` and the client's sign-in calls against the real production
service (in process, SQLite): the password comes from stdin or a prompt, never from the arguments."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clients import MesClients, ResourceExhaustedError, UnauthenticatedError
from mes.production.v1 import production_pb2 as prod
from tests.integration.clients.clients_real_services import RealStack, real_stack
from tests.integration.clients.clients_stack import mesctl

PASSWORD = "bench seven passphrase"


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[RealStack]:
    async with real_stack(tmp_path) as services, MesClients(services.config) as mes:
        operator = prod.Operator(code="OP-7", display_name="Bench seven", role=prod.OPERATOR_ROLE_OPERATOR, active=True)
        await mes.production.upsert_operator(operator)
        yield services


async def test_set_password_from_stdin_then_sign_in_check_and_sign_out(
    real: RealStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert await mesctl(real, "production", "set-password", "OP-7", "--password-stdin") == 0
    assert "password set for operators/OP-7" in capsys.readouterr().out
    async with MesClients(real.config) as mes:
        signed_in = await mes.production.sign_in(operator_code="OP-7", password=PASSWORD, client_address="cli-test")
        assert signed_in.operator.code == "OP-7" and signed_in.session_token
        checked = await mes.production.check_session(signed_in.session_token)
        assert checked.operator.code == "OP-7" and checked.expire_time == signed_in.expire_time
        await mes.production.sign_out(signed_in.session_token)
        with pytest.raises(UnauthenticatedError) as err:
            await mes.production.check_session(signed_in.session_token)
        assert err.value.reason == "SESSION_CLOSED"
        for _ in range(5):
            with pytest.raises(UnauthenticatedError):
                await mes.production.sign_in(operator_code="OP-7", password="wrong passphrase", client_address="x")
        with pytest.raises(ResourceExhaustedError) as throttled:
            await mes.production.sign_in(operator_code="OP-7", password=PASSWORD, client_address="x")
        assert int(throttled.value.metadata["retry_after_s"]) > 0


async def test_set_password_at_a_prompt_typed_twice(
    real: RealStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = iter([PASSWORD, PASSWORD + " typo", PASSWORD, PASSWORD])
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr("getpass.getpass", getpass)
    assert await mesctl(real, "production", "set-password", "operators/OP-7") == 2
    assert "the two passwords differ" in capsys.readouterr().err
    assert await mesctl(real, "production", "set-password", "operators/OP-7") == 0
    assert prompts == ["new password: ", "again: "] * 2
    async with MesClients(real.config) as mes:
        assert (await mes.production.sign_in(operator_code="OP-7", password=PASSWORD)).operator.code == "OP-7"


async def test_a_short_password_or_none_is_refused(
    real: RealStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert await mesctl(real, "production", "set-password", "OP-7", "--password-stdin") == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert await mesctl(real, "production", "set-password", "OP-7", "--password-stdin") == 2
    assert "no password given" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD))
    assert await mesctl(real, "production", "set-password", "NOBODY", "--password-stdin") == 1
    assert "NOT_FOUND" in capsys.readouterr().err
