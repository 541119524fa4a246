"""Partner API keys at the facade: the checksum refuses a made-up key with no lookup, unknown keys
live in their own bounded negative cache (a flood of them never evicts a good key), legacy keys
only with MES_FACADE_LEGACY_API_KEYS, and the revocation hooks forget_key / forget_partner."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from prometheus_client import REGISTRY

from graphql_facade.auth import Authenticator
from graphql_facade.config import FacadeSettings
from graphql_facade.errors import FacadeError
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import PARTNER_A_KEY, PARTNER_B_KEY, FacadeClient, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.facade_ws import websocket

QUERY = "{ orders(first: 1) { nodes { id } } }"
LOOKUPS = "mes_facade_api_key_lookups_total"
REFUSED = "mes_facade_api_key_refused_total"


def _broken(key: str) -> str:
    """``key`` with its last checksum character changed."""
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _lookups_of(backend: FakeBackend, key: str) -> int:
    return sum(1 for method, request in backend.requests if method == "AuthenticatePartner" and request.api_key == key)


async def _refused(auth: Authenticator, key: str) -> FacadeError:
    with pytest.raises(FacadeError) as raised:
        await auth.partner(key)
    return raised.value


MADE_UP = [
    "nope",
    "mes_" + "x" * 38,  # the right length, no valid checksum
    _broken(PARTNER_A_KEY),  # a real key with a typo in its checksum
    "mes_" + ("B" if PARTNER_A_KEY[4] == "A" else "A") + PARTNER_A_KEY[5:],  # ... or in its random part
    PARTNER_A_KEY[:-1],  # truncated
    PARTNER_A_KEY + "x",
    "mes_" + "é" * 38,
    "x" * 100_000,
]


async def test_made_up_keys_get_401_without_any_backend_call(client: FacadeClient, backend: FakeBackend) -> None:
    refused_before = _sample(REFUSED, reason="checksum")
    sent = [key for key in MADE_UP if key.isascii()]  # HTTP headers are bytes: the rest below, directly
    for key in sent:
        response = await client.gql(QUERY, headers={"X-API-Key": key})
        assert response.status_code == 401, key
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED" and error["message"] == "The API key is not valid."
        assert response.headers["www-authenticate"] == "Bearer"
    assert backend.calls["AuthenticatePartner"] == 0
    assert _sample(REFUSED, reason="checksum") - refused_before == len(sent)
    # Nothing was remembered either: the good key of the same partner still resolves as usual.
    assert (await client.gql(QUERY, headers={"X-API-Key": PARTNER_A_KEY})).status_code == 200
    assert backend.calls["AuthenticatePartner"] == 1


async def test_made_up_keys_never_reach_the_backend_nor_the_caches(backend: FakeBackend) -> None:
    auth = Authenticator({}, backend, api_key_ttl_s=60)
    for key in MADE_UP:
        error = await _refused(auth, key)
        assert (error.code, error.http_status) == ("UNAUTHENTICATED", 401)
        assert auth.cached_partner(key) is None
    for params in ({"apiKey": "nope"}, {"apiKey": _broken(PARTNER_B_KEY)}):
        with pytest.raises(FacadeError):
            await auth.from_connection_params(params)
    assert backend.calls["AuthenticatePartner"] == 0
    assert not auth._keys and not auth._unknown and not len(auth._flights)


async def test_a_made_up_key_on_a_websocket_is_refused_without_a_lookup(
    client: FacadeClient, backend: FakeBackend
) -> None:
    async with websocket(client.app) as ws:
        await ws.send({"type": "connection_init", "payload": {"apiKey": _broken(PARTNER_A_KEY)}})
        with pytest.raises(ConnectionError):
            await ws.receive()
        assert ws.close_code == 4403
    assert backend.calls["AuthenticatePartner"] == 0


async def test_legacy_keys_are_refused_by_default_and_accepted_with_the_setting(backend: FakeBackend) -> None:
    legacy = "mes_" + "L" * 32  # issued before checksums: the orders service still knows it
    backend.add_partner("partner-l", legacy)
    assert not FacadeSettings.from_env({}).legacy_api_keys
    async with running_app(backend) as client:
        response = await client.gql(QUERY, headers={"X-API-Key": legacy})
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "The API key is not valid."
    assert backend.calls["AuthenticatePartner"] == 0
    async with running_app(backend, facade_settings(MES_FACADE_LEGACY_API_KEYS="1")) as client:
        assert (await client.gql(QUERY, headers={"X-API-Key": legacy})).status_code == 200
        assert (await client.facade.authenticator.partner(legacy)).partner_id == "partner-l"
        assert (await client.gql(QUERY, headers={"X-API-Key": PARTNER_A_KEY})).status_code == 200
        for key in ("mes_" + "L" * 31, _broken(PARTNER_A_KEY)):  # still no lookup for a malformed one
            assert (await client.gql(QUERY, headers={"X-API-Key": key})).status_code == 401
    assert backend.calls["AuthenticatePartner"] == 2


async def test_a_flood_of_unknown_keys_neither_evicts_a_good_key_nor_is_looked_up_twice(backend: FakeBackend) -> None:
    auth = Authenticator({}, backend, api_key_ttl_s=600)
    good = await auth.partner(PARTNER_A_KEY)
    unknown = [api_keys.issue() for _ in range(20_000)]
    before = _sample(REFUSED, reason="negative_cache")
    for index, key in enumerate(unknown):
        for _ in range(2):  # the second time from the negative cache
            await _refused(auth, key)
        if index % 5000 == 0:
            assert await auth.partner(PARTNER_A_KEY) == good
    assert await auth.partner(PARTNER_A_KEY) == good
    assert auth.cached_partner(PARTNER_A_KEY) == good
    assert _lookups_of(backend, PARTNER_A_KEY) == 1
    assert backend.calls["AuthenticatePartner"] == 1 + len(unknown)
    assert _sample(REFUSED, reason="negative_cache") - before == len(unknown)
    assert len(auth._unknown) == 10_000  # the default bound


async def test_every_unknown_key_is_looked_up_once_within_the_negative_ttl(backend: FakeBackend) -> None:
    auth = Authenticator({}, backend, api_key_ttl_s=5, negative_cache_size=20_000)
    unknown = [api_keys.issue() for _ in range(20_000)]
    for _ in range(2):
        for key in unknown:
            await _refused(auth, key)
    assert backend.calls["AuthenticatePartner"] == len(unknown)


async def test_the_negative_cache_is_bounded_and_least_recently_used_goes_first(backend: FakeBackend) -> None:
    auth = Authenticator({}, backend, api_key_ttl_s=5, negative_cache_size=100)
    unknown = [api_keys.issue() for _ in range(150)]
    for key in unknown:
        await _refused(auth, key)
    assert len(auth._unknown) == 100
    backend.reset_calls()
    await _refused(auth, unknown[-1])  # held
    assert backend.calls["AuthenticatePartner"] == 0
    await _refused(auth, unknown[0])  # evicted: asked again
    assert backend.calls["AuthenticatePartner"] == 1
    assert len(auth._unknown) == 100


async def test_unknown_keys_expire_after_the_negative_ttl(backend: FakeBackend) -> None:
    auth = Authenticator({}, backend, api_key_ttl_s=5, negative_ttl_s=0.05)
    key = api_keys.issue()
    await _refused(auth, key)
    await _refused(auth, key)
    assert backend.calls["AuthenticatePartner"] == 1
    await asyncio.sleep(0.1)
    await _refused(auth, key)
    assert backend.calls["AuthenticatePartner"] == 2
    off = Authenticator({}, backend, api_key_ttl_s=5, negative_cache_size=0)
    await _refused(off, key)
    await _refused(off, key)
    assert backend.calls["AuthenticatePartner"] == 4 and not off._unknown


async def test_lookups_are_counted_by_outcome(backend: FakeBackend) -> None:
    import grpc

    from clients import UnavailableError

    auth = Authenticator({}, backend, api_key_ttl_s=5)
    before = {outcome: _sample(LOOKUPS, outcome=outcome) for outcome in ("valid", "unknown", "error")}
    await auth.partner(PARTNER_A_KEY)
    await _refused(auth, api_keys.issue())
    backend.fail["AuthenticatePartner"] = UnavailableError(grpc.StatusCode.UNAVAILABLE, "down")
    error = await _refused(auth, PARTNER_B_KEY)
    assert error.http_status == 503
    after = {outcome: _sample(LOOKUPS, outcome=outcome) for outcome in ("valid", "unknown", "error")}
    assert {k: after[k] - before[k] for k in after} == {"valid": 1, "unknown": 1, "error": 1}
    del backend.fail["AuthenticatePartner"]
    assert (await auth.partner(PARTNER_B_KEY)).partner_id == "partner-b"  # an error is not remembered


async def three_keys_cached(backend: FakeBackend) -> tuple[Authenticator, str]:
    """An authenticator that has looked up and cached partner-a's two keys and partner-b's; partner-a's
    second key."""
    second_a = api_keys.issue()
    backend.add_partner("partner-a", second_a)
    auth = Authenticator({}, backend, api_key_ttl_s=600)
    for key in (PARTNER_A_KEY, second_a, PARTNER_B_KEY):
        await auth.partner(key)
    return auth, second_a


async def test_forget_key_drops_that_key_only(backend: FakeBackend) -> None:
    auth, second_a = await three_keys_cached(backend)
    auth.forget_key(hashlib.sha256(PARTNER_A_KEY.encode()).hexdigest())
    auth.forget_key("0" * 64)  # not cached: nothing happens
    assert auth.cached_partner(PARTNER_A_KEY) is None
    assert auth.cached_partner(second_a) is not None and auth.cached_partner(PARTNER_B_KEY) is not None
    backend.reset_calls()
    await auth.partner(PARTNER_A_KEY)  # looked up again
    await auth.partner(second_a)
    assert backend.calls["AuthenticatePartner"] == 1


async def test_forget_partner_drops_every_key_of_that_partner(backend: FakeBackend) -> None:
    auth, second_a = await three_keys_cached(backend)
    auth.forget_partner("partner-a")
    auth.forget_partner("nobody")
    assert auth.cached_partner(PARTNER_A_KEY) is None and auth.cached_partner(second_a) is None
    assert auth.cached_partner(PARTNER_B_KEY) is not None
    backend.reset_calls()
    for key in (PARTNER_A_KEY, second_a, PARTNER_B_KEY):
        await auth.partner(key)
    assert backend.calls["AuthenticatePartner"] == 2


async def test_a_lookup_under_way_when_its_partner_is_forgotten_is_not_cached(backend: FakeBackend) -> None:
    backend.delay["AuthenticatePartner"] = 0.05
    auth = Authenticator({}, backend, api_key_ttl_s=600)
    lookup = asyncio.create_task(auth.partner(PARTNER_A_KEY))
    await asyncio.sleep(0.01)
    auth.forget_partner("partner-a")  # revoked while the answer was on its way
    assert (await lookup).partner_id == "partner-a"
    assert auth.cached_partner(PARTNER_A_KEY) is None
    await auth.partner(PARTNER_A_KEY)
    assert auth.cached_partner(PARTNER_A_KEY) is not None and backend.calls["AuthenticatePartner"] == 2


def test_settings() -> None:
    defaults = FacadeSettings.from_env({})
    assert (defaults.legacy_api_keys, defaults.api_key_negative_cache_size, defaults.api_key_negative_ttl_s) == (
        False,
        10_000,
        60.0,
    )
    settings = FacadeSettings.from_env(
        {
            "MES_FACADE_LEGACY_API_KEYS": "1",
            "MES_FACADE_API_KEY_NEGATIVE_CACHE_SIZE": "500",
            "MES_FACADE_API_KEY_NEGATIVE_TTL_S": "30",
        }
    )
    assert (settings.legacy_api_keys, settings.api_key_negative_cache_size, settings.api_key_negative_ttl_s) == (
        True,
        500,
        30.0,
    )
    with pytest.raises(ValueError, match="MES_FACADE_API_KEY_NEGATIVE_CACHE_SIZE"):
        FacadeSettings.from_env({"MES_FACADE_API_KEY_NEGATIVE_CACHE_SIZE": "-1"})
    with pytest.raises(ValueError, match="MES_FACADE_LEGACY_API_KEYS"):
        FacadeSettings.from_env({"MES_FACADE_LEGACY_API_KEYS": "maybe"})
