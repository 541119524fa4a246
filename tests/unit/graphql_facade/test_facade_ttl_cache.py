"""The facade's bounded, expiring map (:class:`graphql_facade.ttl_cache.TtlLru`): expiry on an injected
clock, the least recently used pushed out at the bound, and the caches built on it (partners' keys,
unknown keys, operators' sessions)."""

from __future__ import annotations

import pytest

from graphql_facade.auth import Authenticator
from graphql_facade.sessions import Sessions
from graphql_facade.ttl_cache import TtlLru
from tests.unit.graphql_facade.facade_fakes import FakeBackend
from tests.unit.graphql_facade.fake_clock import FakeClock


def test_an_entry_is_fresh_for_its_ttl_then_held_but_not_answered() -> None:
    clock = FakeClock()
    cache: TtlLru[str, int] = TtlLru(10, 5.0, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2, ttl_s=1.0)  # its own time
    clock.now += 0.9
    assert (cache.get("a"), cache.get("b"), cache.peek("b")) == (1, 2, 2)
    clock.now += 0.2
    assert (cache.get("b"), cache.peek("b")) == (None, None)
    assert "b" in cache and len(cache) == 2  # expired, still held: known but stale
    clock.now += 3.9
    assert cache.get("a") is None and "a" in cache
    assert cache.pop("a") == 1 and "a" not in cache and cache.pop("a") is None
    cache.put("b", 3)  # put again: fresh again
    assert cache.get("b") == 3


def test_the_least_recently_used_goes_first_at_the_bound() -> None:
    clock = FakeClock()
    cache: TtlLru[str, int] = TtlLru(3, 60.0, clock=clock)
    for n, key in enumerate("abc"):
        cache.put(key, n)
    assert cache.get("a") == 0  # used: now the most recent
    assert cache.peek("b") == 1  # a peek does not count as a use
    cache.put("d", 3)
    assert len(cache) == 3 and "b" not in cache
    assert [cache.get(k) for k in "acd"] == [0, 2, 3]
    cache.put("c", 20)  # replacing a key makes it the most recent, not a new entry
    cache.put("e", 4)
    assert "a" not in cache and [cache.get(k) for k in "cde"] == [20, 3, 4]


@pytest.mark.parametrize(("bound", "ttl_s"), [(0, 5.0), (5, 0.0), (5, -1.0)])
def test_a_bound_or_time_of_zero_holds_nothing(bound: int, ttl_s: float) -> None:
    cache: TtlLru[str, int] = TtlLru(bound, ttl_s)
    cache.put("a", 1)
    assert len(cache) == 0 and cache.get("a") is None


def test_put_with_no_time_left_drops_what_the_key_held() -> None:
    cache: TtlLru[str, int] = TtlLru(5, 5.0, clock=FakeClock())
    cache.put("a", 1)
    cache.put("a", 2, ttl_s=0)
    assert "a" not in cache


def test_drop_where_and_clear() -> None:
    cache: TtlLru[str, int] = TtlLru(10, 5.0, clock=FakeClock())
    for n, key in enumerate("abcd"):
        cache.put(key, n)
    assert cache.drop_where(lambda value: value % 2 == 0) == 2
    assert sorted(k for k in "abcd" if k in cache) == ["b", "d"]
    cache.clear()
    assert len(cache) == 0


async def test_the_facades_caches_are_all_ttl_lrus(backend: FakeBackend) -> None:
    auth = Authenticator({}, backend, api_key_ttl_s=60, max_keys=7, negative_ttl_s=30, negative_cache_size=9)
    sessions = Sessions(backend, ttl_s=5, max_entries=11)
    caches = [(auth._keys, 7, 60), (auth._unknown, 9, 30), (sessions._held, 11, 5)]
    for cache, bound, ttl_s in caches:
        assert isinstance(cache, TtlLru) and (cache.max_entries, cache.ttl_s) == (bound, ttl_s)
