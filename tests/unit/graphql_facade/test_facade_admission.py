"""Fair admission: per-caller concurrency caps and queues, weighted turns on a full replica, refusals
that keep their slot a moment, the per-address limit of unauthenticated traffic (with trusted
proxies), and slow bodies cut off."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from graphql_facade.errors import FacadeError
from graphql_facade.limits import AddressLimiter, ClientAddresses, LimitError, Limits, partner_limits
from graphql_facade.pipeline import FairGate
from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import (
    OPERATOR,
    PARTNER_A,
    PARTNER_B,
    facade_settings,
    running_app,
)
from tests.unit.graphql_facade.facade_fakes import FakeBackend

QUERY = "{ orders(first: 5) { nodes { id } } }"
STANDARD = partner_limits("STANDARD")


def limits(cap: int = 2, queued: int = 10, weight: int = 1) -> Limits:
    return dataclasses.replace(STANDARD, max_concurrency=cap, max_queued=queued, share_weight=weight)


# -- the gate on its own ------------------------------------------------------------------------


async def test_a_caller_runs_at_most_its_cap_and_the_rest_waits_in_its_queue() -> None:
    gate = FairGate(10, wait_s=5)
    own = limits(cap=2)
    assert gate.try_enter("a", own) and gate.try_enter("a", own)
    assert not gate.try_enter("a", own)
    third = asyncio.create_task(gate.enter("a", own))
    await asyncio.sleep(0)
    assert not third.done() and gate.queued("a") == 1
    assert gate.try_enter("b", own), "another caller is not held by a's cap"
    gate.leave("a")
    await asyncio.wait_for(third, 1)
    assert gate.running("a") == 2 and gate.running("b") == 1 and gate.active == 3


async def test_a_full_queue_is_refused_at_once_with_429() -> None:
    gate = FairGate(10, wait_s=5)
    own = limits(cap=1, queued=1)
    assert gate.try_enter("a", own)
    waiting = asyncio.create_task(gate.enter("a", own))
    await asyncio.sleep(0)
    with pytest.raises(LimitError) as refused:
        await gate.enter("a", own)
    assert refused.value.code == "TOO_MANY_CONCURRENT_REQUESTS" and refused.value.http_status == 429
    assert refused.value.headers["Retry-After"] == "1"
    gate.leave("a")
    await waiting


async def test_waiting_past_the_bound_is_503_on_a_full_replica_and_429_on_the_own_cap() -> None:
    gate = FairGate(1, wait_s=0.05)
    assert gate.try_enter("a", limits(cap=1))
    with pytest.raises(FacadeError) as shed:
        await gate.enter("b", limits(cap=1))
    assert shed.value.code == "OVERLOADED" and shed.value.http_status == 503
    with pytest.raises(LimitError) as own:
        await gate.enter("a", limits(cap=1))
    assert own.value.code == "TOO_MANY_CONCURRENT_REQUESTS"
    assert gate.queued("a") == 0 and gate.queued("b") == 0 and gate.active == 1


async def test_a_full_replica_serves_waiting_callers_in_turn_weighted_by_tier() -> None:
    """Capacity 1, a flood of 30 waiting from `heavy` (weight 2) and 30 from `light` (weight 1): of the
    first 30 turns `heavy` gets about two thirds, and `light` is never starved."""
    gate = FairGate(1, wait_s=30)
    order: list[str] = []
    assert gate.try_enter("holder", limits(cap=1))

    async def one(name: str, weight: int) -> None:
        await gate.enter(name, limits(cap=1, queued=100, weight=weight))
        order.append(name)
        await asyncio.sleep(0)
        gate.leave(name)

    tasks = [asyncio.create_task(one("heavy", 2)) for _ in range(30)]
    tasks += [asyncio.create_task(one("light", 1)) for _ in range(30)]
    await asyncio.sleep(0)
    gate.leave("holder")
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    first = Counter(order[:30])
    assert 18 <= first["heavy"] <= 22 and 8 <= first["light"] <= 12, order
    assert gate.active == 0


async def test_a_refused_request_keeps_its_slot_for_the_hold() -> None:
    gate = FairGate(10, wait_s=5, refusal_hold_s=0.1)
    own = limits(cap=1)
    assert gate.try_enter("a", own)
    gate.leave("a", refused=True)
    assert not gate.try_enter("a", own), "the slot is still held"
    await asyncio.sleep(0.15)
    assert gate.try_enter("a", own)


async def test_a_waiter_that_goes_away_frees_its_place() -> None:
    gate = FairGate(1, wait_s=5)
    assert gate.try_enter("a", limits(cap=1))
    waiter = asyncio.create_task(gate.enter("b", limits(cap=1)))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.leave("a")
    assert gate.active == 0 and gate.queued("b") == 0
    assert gate.try_enter("b", limits(cap=1))


# -- addresses ----------------------------------------------------------------------------------


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    addresses = ClientAddresses(["10.0.0.0/8"])
    forwarded = {"x-forwarded-for": "203.0.113.9, 10.1.2.3"}
    assert addresses.of("10.0.0.5", forwarded) == "203.0.113.9"
    assert addresses.of("198.51.100.7", forwarded) == "198.51.100.7", "an untrusted peer's header is ignored"
    assert addresses.of("10.0.0.5", {}) == "10.0.0.5"
    assert ClientAddresses().of("127.0.0.1", {"x-forwarded-for": "1.2.3.4"}) == "127.0.0.1"


def test_the_address_limiter_counts_failures_only() -> None:
    limiter = AddressLimiter(3)
    for _ in range(3):
        limiter.check("198.51.100.7")
        limiter.failed("198.51.100.7")
    with pytest.raises(LimitError) as refused:
        limiter.check("198.51.100.7")
    assert refused.value.code == "RATE_LIMITED" and int(refused.value.headers["Retry-After"]) >= 1
    limiter.check("198.51.100.8")  # another address is untouched


# -- through the endpoint -----------------------------------------------------------------------


async def test_a_partner_flooding_with_slow_queries_never_delays_another(backend: FakeBackend) -> None:
    """Partner A (STANDARD, cap 4) sends 40 slow queries at once; B's query runs at once beside them,
    and A's run four at a time (ten rounds of 0.3 s)."""
    backend.delay["ListOrders"] = 0.3
    settings = facade_settings(MES_FACADE_CACHE="0", MES_FACADE_LIMITS_STANDARD_REQUESTS_PER_MINUTE="1000")
    loop = asyncio.get_running_loop()
    async with running_app(backend, settings) as client:
        began = loop.time()
        flood = [asyncio.create_task(client.gql(QUERY, headers=PARTNER_A)) for _ in range(40)]
        for _ in range(500):
            if backend.calls["ListOrders"] >= 4:
                break
            await asyncio.sleep(0.01)
        started = loop.time()
        b = await client.gql(QUERY, headers=PARTNER_B)
        took = loop.time() - started
        answers = await asyncio.gather(*flood)
        flood_took = loop.time() - began
    assert b.status_code == 200
    assert took < 0.3 + 0.25, f"B waited behind A: {took:.3f} s"
    assert Counter(a.status_code for a in answers)[200] == 40, "A's queued requests ran in its turn"
    assert flood_took >= 10 * 0.3 - 0.05, f"A ran more than 4 at once: 40 answers in {flood_took:.2f} s"


async def test_unauthenticated_floods_are_limited_per_address_but_known_callers_pass(backend: FakeBackend) -> None:
    settings = facade_settings(
        MES_FACADE_UNAUTHENTICATED_PER_MINUTE="5", MES_FACADE_API_KEY_CACHE_TTL_S="0.05", MES_FACADE_CACHE="0"
    )
    async with running_app(backend, settings) as client:
        assert (await client.gql(QUERY, headers=PARTNER_A)).status_code == 200  # A authenticated here
        statuses = [(await client.gql(QUERY, headers={"X-API-Key": api_keys.issue()})).status_code for _ in range(8)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        limited = await client.gql(QUERY, headers={"X-API-Key": api_keys.issue()})
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        await asyncio.sleep(0.1)  # A's key cache entry expired: A is looked up again, and passes
        lookups = backend.calls["AuthenticatePartner"]
        assert (await client.gql(QUERY, headers=PARTNER_A)).status_code == 200, "a key seen valid lately passes"
        assert backend.calls["AuthenticatePartner"] == lookups + 1, "and is checked as usual"
        assert (await client.gql(QUERY, headers=OPERATOR)).status_code == 200, "a valid token passes"
        uncached = await client.gql(QUERY, headers=PARTNER_B)
        assert uncached.status_code == 429, "a key never seen here waits like the rest of its address"
        del backend.api_keys[PARTNER_A["X-API-Key"]]  # revoked
        await asyncio.sleep(0.1)
        assert (await client.gql(QUERY, headers=PARTNER_A)).status_code == 401
        assert (await client.gql(QUERY, headers=PARTNER_A)).status_code == 429, "and forgotten"


async def test_a_body_that_does_not_arrive_in_time_is_408(backend: FakeBackend) -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b'{"query": "'
        await asyncio.sleep(1.0)
        yield b'{ __typename }"}'

    settings = facade_settings(MES_FACADE_BODY_TIMEOUT_S="0.2", MES_FACADE_CACHE="0")
    async with running_app(backend, settings) as client:
        response = await client.http.post(
            "/graphql", content=slow(), headers={**PARTNER_A, "content-type": "application/json"}
        )
        assert response.status_code == 408
        assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
        assert "ratelimit" in response.headers
        again = await client.gql(QUERY, headers=PARTNER_A)
        assert again.status_code == 200


def test_settings_refuse_a_bad_trusted_proxy() -> None:
    with pytest.raises(ValueError, match="MES_FACADE_TRUSTED_PROXIES"):
        facade_settings(MES_FACADE_TRUSTED_PROXIES="10.0.0.0/8, not-an-address")
    assert facade_settings(MES_FACADE_TRUSTED_PROXIES="10.0.0.0/8,::1").trusted_proxies == ("10.0.0.0/8", "::1/128")
