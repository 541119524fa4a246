"""Automatic persisted queries: the Apollo protocol and the bounded store."""

from __future__ import annotations

import hashlib

import pytest

from graphql_facade.limits import LimitCode, LimitError, PersistedQueryStore, query_hash, resolve_persisted_query

QUERY = "{ viewer { name } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def pq(sha: str = HASH, version: object = 1) -> dict[str, object]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha}}


async def test_plain_queries_pass_through() -> None:
    store = PersistedQueryStore()
    assert await resolve_persisted_query(store, QUERY, {}) == QUERY
    assert await resolve_persisted_query(store, QUERY, None) == QUERY
    assert len(store) == 0


async def test_unknown_hash_is_not_found_with_http_200() -> None:
    with pytest.raises(LimitError) as info:
        await resolve_persisted_query(PersistedQueryStore(), None, pq())
    error = info.value
    assert (error.code, error.http_status, error.message) == (
        "PERSISTED_QUERY_NOT_FOUND",
        200,
        "PersistedQueryNotFound",
    )


async def test_register_then_use_the_hash_alone() -> None:
    store = PersistedQueryStore()
    assert await resolve_persisted_query(store, QUERY, pq()) == QUERY
    assert await resolve_persisted_query(store, None, pq()) == QUERY
    assert await resolve_persisted_query(store, "", pq(HASH.upper())) == QUERY
    assert query_hash(QUERY) == HASH


async def test_a_wrong_hash_is_refused_and_not_stored() -> None:
    store = PersistedQueryStore()
    other = hashlib.sha256(b"{ other }").hexdigest()
    with pytest.raises(LimitError) as info:
        await resolve_persisted_query(store, QUERY, pq(other))
    assert (info.value.code, info.value.http_status) == ("PERSISTED_QUERY_HASH_MISMATCH", 400)
    assert await store.get(other) is None


@pytest.mark.parametrize(
    ("query", "extensions", "code"),
    [
        (None, {"persistedQuery": {"version": 2, "sha256Hash": HASH}}, LimitCode.PERSISTED_QUERY_NOT_SUPPORTED),
        (None, {"persistedQuery": "yes"}, LimitCode.PERSISTED_QUERY_NOT_SUPPORTED),
        (None, {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, LimitCode.BAD_REQUEST),
        (None, {"persistedQuery": {"version": 1}}, LimitCode.BAD_REQUEST),
        (None, {}, LimitCode.BAD_REQUEST),
    ],
)
async def test_malformed_requests(query: str | None, extensions: dict[str, object], code: LimitCode) -> None:
    with pytest.raises(LimitError) as info:
        await resolve_persisted_query(PersistedQueryStore(), query, extensions)
    assert info.value.code == code
    assert info.value.http_status == 400


async def test_store_is_an_lru_bounded_by_entries() -> None:
    store = PersistedQueryStore(max_entries=2)
    await store.put("a", "A")
    await store.put("b", "B")
    assert await store.get("a") == "A"  # "a" is now the most recently used
    await store.put("c", "C")
    assert (await store.get("a"), await store.get("b"), await store.get("c")) == ("A", None, "C")
    assert len(store) == 2


async def test_store_is_bounded_by_characters() -> None:
    store = PersistedQueryStore(max_entries=100, max_chars=10)
    await store.put("a", "x" * 6)
    await store.put("b", "y" * 6)
    assert await store.get("a") is None
    await store.put("huge", "z" * 11)  # larger than the whole store: never kept
    assert await store.get("huge") is None
    assert await store.get("b") == "y" * 6
    await store.put("b", "w" * 4)  # replacing updates the size
    await store.put("c", "v" * 6)
    assert await store.get("b") == "w" * 4
