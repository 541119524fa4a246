"""The API key format: issue, checksum, legacy detection (pure)."""

from __future__ import annotations

import string
import zlib

import pytest

from mes_kernel import api_keys
from mes_kernel.api_keys import KEY_LENGTH, LEGACY_KEY_LENGTH, PREFIX, has_valid_checksum, is_legacy, issue

URL_SAFE = string.ascii_letters + string.digits + "-_"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _base62(value: int) -> str:
    out = ""
    while value:
        value, digit = divmod(value, 62)
        out = BASE62[digit] + out
    return out.rjust(6, "0")


def test_issued_keys_round_trip() -> None:
    keys = {issue() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith(PREFIX) and len(key) == KEY_LENGTH == 42
        assert all(c in URL_SAFE for c in key[4:36]) and all(c in BASE62 for c in key[36:])
        assert has_valid_checksum(key) and not is_legacy(key)


def test_the_checksum_is_crc32_of_prefix_and_body_in_base62() -> None:
    body = "hG3x0_Qv7Jt2LrUe9dKpWm4Zb-Ns8YcA"
    key = api_keys.with_checksum(body)
    assert key == PREFIX + body + _base62(zlib.crc32((PREFIX + body).encode()))
    assert key == "mes_hG3x0_Qv7Jt2LrUe9dKpWm4Zb-Ns8YcA0Qp0ry"  # the example of the module's docstring
    assert has_valid_checksum(key)


@pytest.mark.parametrize("body", ["", "short", "x" * 33, "é" * 32, "a b" + "c" * 29, "+" * 32])
def test_with_checksum_wants_32_url_safe_characters(body: str) -> None:
    with pytest.raises(ValueError):
        api_keys.with_checksum(body)


def test_every_single_character_change_fails_the_checksum() -> None:
    for key in (issue(), issue(), api_keys.with_checksum("0" * 32)):
        for position, original in enumerate(key):
            for replacement in URL_SAFE + "=+/ .é\x00":
                if replacement != original:
                    changed = key[:position] + replacement + key[position + 1 :]
                    assert not has_valid_checksum(changed), (key, position, replacement)


def test_swapped_neighbours_and_cut_or_extended_keys_fail() -> None:
    key = issue()
    for position in range(len(key) - 1):
        swapped = key[:position] + key[position + 1] + key[position] + key[position + 2 :]
        if swapped != key:
            assert not has_valid_checksum(swapped)
    for bad in (key[:-1], key + "0", key[1:], " " + key, key + "\n", key.upper() if key != key.upper() else key[:-1]):
        assert not has_valid_checksum(bad)


@pytest.mark.parametrize(
    "value",
    ["", "mes_", "nope", "MES_" + "a" * 38, "pk_" + "a" * 39, "mes-" + "a" * 38, "mes_" + "a" * 38, "x" * 1_000_000],
)
def test_made_up_strings_are_not_keys(value: str) -> None:
    assert not has_valid_checksum(value)


@pytest.mark.parametrize("value", [None, 42, b"mes_abc", ["mes_"], object()])
def test_non_strings_are_false_never_an_error(value: object) -> None:
    assert not has_valid_checksum(value)
    assert not is_legacy(value)


def test_legacy_keys_are_recognised() -> None:
    legacy = PREFIX + "YZh6n0MJih71N8tGur6ZeWPtDebh5t4z"  # a key issued before checksums
    assert len(legacy) == LEGACY_KEY_LENGTH == 36
    assert is_legacy(legacy) and not has_valid_checksum(legacy)
    assert is_legacy(issue()[:LEGACY_KEY_LENGTH])
    for bad in (legacy[:-1], legacy + "x", "mes_" + "a" * 31 + "=", "xes_" + "a" * 32, issue(), "mes_" + "é" * 32):
        assert not is_legacy(bad), bad
