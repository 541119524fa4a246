"""The settings rules the services and the facade share."""

from __future__ import annotations

import pytest

from mes_kernel.settings import InsecureSettings, dev_refusal, is_loopback, refuse_placeholder


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", " LOCALHOST "])
def test_loopback_binds(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "mes.example.com", ""])
def test_other_binds(host: str) -> None:
    assert not is_loopback(host)


def test_a_placeholder_is_refused_naming_the_variable() -> None:
    refuse_placeholder("MES_X", "a-real-secret")
    with pytest.raises(InsecureSettings, match="MES_X still holds the REPLACE_ME placeholder"):
        refuse_placeholder("MES_X", "xx-REPLACE_ME-xx")


def test_the_refusal_names_the_bind_setting_and_the_flag() -> None:
    text = dev_refusal("T is not set", "0.0.0.0", values="tokens", process="facade", host_setting="H")
    assert text.startswith("T is not set: development tokens are accepted only when the facade binds to loopback")
    assert "(H 127.0.0.1, ::1 or localhost; it is '0.0.0.0')" in text and "MES_DEV_MODE=1" in text
