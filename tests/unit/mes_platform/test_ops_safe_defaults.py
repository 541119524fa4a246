"""Safe defaults: the development token and page-token secret only on loopback or with
``MES_DEV_MODE=1``; placeholders of the secrets template and empty secrets never; the
reflection switch. Services (``ServiceSettings``) and the facade (``FacadeSettings``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphql_facade.config import (
    DEFAULT_OPERATOR_TOKEN,
    DEFAULT_POSITION_SECRET,
    DEFAULT_SERVICE_TOKEN,
    FacadeSettings,
)
from graphql_facade.config import InsecureSettings as InsecureFacadeSettings
from mes_platform.config import DEFAULT_DEV_TOKEN, InsecureSettings, ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
SECRETS = {"MES_AUTH_TOKENS": "s3cret-token=service:facade", "MES_PAGE_TOKEN_SECRET": "a-real-page-secret"}
FACADE_SECRETS = {
    "MES_FACADE_SERVICE_TOKEN": "s3cret-token",
    "MES_FACADE_OPERATOR_TOKENS": "op-token=OP-01",
    "MES_FACADE_POSITION_SECRET": "a-real-position-secret",
}


def service(**env: str) -> ServiceSettings:
    return ServiceSettings.from_env("orders", env=env)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_loopback_keeps_the_development_defaults(host: str) -> None:
    got = service(MES_GRPC_HOST=host)
    assert DEFAULT_DEV_TOKEN in got.tokens and got.page_token_secret == b"mes-dev-page-secret"
    assert service().grpc_host == "127.0.0.1" and DEFAULT_DEV_TOKEN in service().tokens


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "orders.mes.svc"])
def test_other_addresses_refuse_the_development_defaults(host: str) -> None:
    with pytest.raises(InsecureSettings) as caught:
        service(MES_GRPC_HOST=host)
    message = str(caught.value)
    assert "MES_AUTH_TOKENS" in message and "MES_PAGE_TOKEN_SECRET" in message and "MES_DEV_MODE=1" in message
    assert host in message


def test_other_addresses_refuse_the_development_values_given_explicitly() -> None:
    with pytest.raises(InsecureSettings, match="MES_AUTH_TOKENS holds the development token"):
        service(**{**SECRETS, "MES_AUTH_TOKENS": f"x=service:a,{DEFAULT_DEV_TOKEN}=service:dev"}, MES_GRPC_HOST="::")
    with pytest.raises(InsecureSettings, match="MES_PAGE_TOKEN_SECRET holds the development"):
        service(**{**SECRETS, "MES_PAGE_TOKEN_SECRET": "mes-dev-page-secret"}, MES_GRPC_HOST="0.0.0.0")
    assert DEFAULT_DEV_TOKEN in service(**{**SECRETS, "MES_AUTH_TOKENS": f"{DEFAULT_DEV_TOKEN}=service:d"}).tokens


def test_real_secrets_on_any_address() -> None:
    got = service(**SECRETS, MES_GRPC_HOST="0.0.0.0")
    assert set(got.tokens) == {"s3cret-token"} and got.page_token_secret == b"a-real-page-secret"


@pytest.mark.parametrize("flag", ["MES_DEV_MODE", "MES_ORDERS_DEV_MODE"])
@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_the_development_flag_allows_the_defaults_anywhere(flag: str, value: str) -> None:
    got = service(MES_GRPC_HOST="0.0.0.0", **{flag: value})
    assert DEFAULT_DEV_TOKEN in got.tokens and got.page_token_secret == b"mes-dev-page-secret"
    with pytest.raises(InsecureSettings):
        service(MES_GRPC_HOST="0.0.0.0", **{flag: "0"})


@pytest.mark.parametrize(
    "variable",
    ["MES_AUTH_TOKENS", "MES_PAGE_TOKEN_SECRET", "MES_ORDERS_PAGE_TOKEN_SECRET", "MES_DATABASE_URL", "MES_NATS_URL"],
)
def test_placeholders_are_refused_everywhere(variable: str) -> None:
    for extra in ({}, {"MES_DEV_MODE": "1"}):
        with pytest.raises(InsecureSettings, match=f"{variable} still holds the REPLACE_ME placeholder"):
            service(**{**SECRETS, variable: "x-REPLACE_ME-y", **extra})


@pytest.mark.parametrize("variable", ["MES_AUTH_TOKENS", "MES_PAGE_TOKEN_SECRET", "MES_ORDERS_AUTH_TOKENS"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_secrets_are_refused_even_on_loopback(variable: str, value: str) -> None:
    with pytest.raises(InsecureSettings, match=f"{variable} is empty"):
        service(**{**SECRETS, variable: value})


def test_a_token_list_without_tokens_is_refused() -> None:
    with pytest.raises(InsecureSettings, match="MES_AUTH_TOKENS lists no token"):
        service(**{**SECRETS, "MES_AUTH_TOKENS": " , ,"})


def test_the_secrets_template_is_refused_as_it_is() -> None:
    template = {"MES_AUTH_TOKENS": "REPLACE_ME", "MES_PAGE_TOKEN_SECRET": "REPLACE_ME", "MES_GRPC_HOST": "0.0.0.0"}
    with pytest.raises(InsecureSettings, match="still holds the REPLACE_ME placeholder"):
        service(**template)
    with pytest.raises(InsecureSettings, match="MES_PAGE_TOKEN_SECRET still holds the REPLACE_ME placeholder"):
        service(**{**template, **SECRETS, "MES_PAGE_TOKEN_SECRET": "REPLACE_ME"})
    with pytest.raises(InsecureFacadeSettings, match="MES_FACADE_SERVICE_TOKEN still holds the REPLACE_ME"):
        FacadeSettings.from_env({"MES_FACADE_SERVICE_TOKEN": "REPLACE_ME", "MES_FACADE_OPERATOR_TOKENS": "REPLACE_ME"})


def test_the_manifests_never_set_the_development_flag() -> None:
    for path in (ROOT / "deploy").rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json", ".env", ".txt", ".sh"):
            assert "DEV_MODE" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), ("off", False), ("true", True)])
def test_reflection_switch(value: str | None, on: bool) -> None:
    env = {} if value is None else {"MES_GRPC_REFLECTION": value}
    assert service(**env).grpc_reflection is on
    assert service(MES_ORDERS_GRPC_REFLECTION="0", MES_GRPC_REFLECTION="1").grpc_reflection is False
    with pytest.raises(ValueError, match="GRPC_REFLECTION"):
        service(MES_GRPC_REFLECTION="maybe")


# The facade: the same rules for the token it sends to the services and its operator tokens.


def facade(**env: str) -> FacadeSettings:
    return FacadeSettings.from_env(env)


def test_facade_on_loopback_keeps_the_development_tokens() -> None:
    got = facade()
    assert got.service_token == DEFAULT_SERVICE_TOKEN and DEFAULT_OPERATOR_TOKEN in got.operator_tokens


def test_facade_on_other_addresses_refuses_the_development_tokens() -> None:
    with pytest.raises(InsecureFacadeSettings) as caught:
        facade(MES_FACADE_HOST="0.0.0.0")
    message = str(caught.value)
    assert "MES_FACADE_SERVICE_TOKEN" in message and "MES_FACADE_OPERATOR_TOKENS" in message
    assert "MES_FACADE_POSITION_SECRET is not set" in message
    assert "MES_DEV_MODE=1" in message
    with pytest.raises(InsecureFacadeSettings, match="MES_FACADE_SERVICE_TOKEN holds the development"):
        facade(**{**FACADE_SECRETS, "MES_FACADE_SERVICE_TOKEN": DEFAULT_SERVICE_TOKEN}, MES_FACADE_HOST="0.0.0.0")
    with pytest.raises(InsecureFacadeSettings, match="MES_FACADE_OPERATOR_TOKENS holds the development"):
        facade(
            **{**FACADE_SECRETS, "MES_FACADE_OPERATOR_TOKENS": f"{DEFAULT_OPERATOR_TOKEN}=SUP-01"},
            MES_FACADE_HOST="0.0.0.0",
        )
    with pytest.raises(InsecureFacadeSettings, match="MES_FACADE_POSITION_SECRET holds the development"):
        facade(**{**FACADE_SECRETS, "MES_FACADE_POSITION_SECRET": DEFAULT_POSITION_SECRET}, MES_FACADE_HOST="0.0.0.0")
    assert facade(MES_FACADE_HOST="0.0.0.0", MES_DEV_MODE="1").service_token == DEFAULT_SERVICE_TOKEN
    assert facade(**FACADE_SECRETS, MES_FACADE_HOST="0.0.0.0").service_token == "s3cret-token"


@pytest.mark.parametrize(
    "variable", ["MES_FACADE_SERVICE_TOKEN", "MES_FACADE_OPERATOR_TOKENS", "MES_FACADE_POSITION_SECRET"]
)
def test_facade_refuses_empty_secrets(variable: str) -> None:
    with pytest.raises(InsecureFacadeSettings, match=f"{variable} is empty"):
        facade(**{**FACADE_SECRETS, variable: " "})


def test_facade_refuses_placeholders_in_any_setting() -> None:
    with pytest.raises(InsecureFacadeSettings, match="MES_FACADE_REDIS_URL still holds the REPLACE_ME"):
        facade(**FACADE_SECRETS, MES_FACADE_REDIS_URL="REPLACE_ME", MES_DEV_MODE="1")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MES_FACADE_HOST": "0.0.0.0"}, "MES_FACADE_SERVICE_TOKEN is not set"),
        ({"MES_FACADE_SERVICE_TOKEN": "REPLACE_ME"}, "MES_FACADE_SERVICE_TOKEN"),
        ({"MES_FACADE_MAX_INFLIGHT": "many"}, "MES_FACADE_MAX_INFLIGHT"),
        ({"MES_FACADE_METRICS_PORT": "scrape-me"}, "MES_FACADE_METRICS_PORT must be a TCP port"),
        ({"MES_FACADE_PORT": "18201", "MES_FACADE_METRICS_PORT": "18201"}, "MES_FACADE_METRICS_PORT is the facade's"),
    ],
)
def test_the_facade_process_refuses_in_one_line_with_exit_code_2(env: dict[str, str], named: str) -> None:
    """As the services do: no traceback, the reason on stderr, exit code 2 (before: a traceback, exit 1)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MES_")}
    done = subprocess.run(
        [sys.executable, "-m", "graphql_facade"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graphql_facade: ") and named in lines[0], lines
