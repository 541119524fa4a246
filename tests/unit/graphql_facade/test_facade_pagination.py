"""Relay cursors over keyset page tokens."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphql_facade.errors import FacadeError
from graphql_facade.pagination import decode_cursor, encode_cursor, fetch_page


class Pages:
    """A backend listing ``items`` with keyset-like tokens (``k<index of the last item>``)."""

    def __init__(self, items: Sequence[int], page_max: int = 100) -> None:
        self.items = list(items)
        self.page_max = page_max
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, token: str, size: int) -> tuple[list[int], str]:
        self.calls.append((token, size))
        start = int(token[1:]) + 1 if token else 0
        size = min(size, self.page_max)
        chunk = self.items[start : start + size]
        end = start + len(chunk) - 1
        return chunk, (f"k{end}" if end + 1 < len(self.items) else "")


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor("tok", 7)) == ("tok", 7)
    for bad in ("", "!!!", encode_cursor("t", 101), "WyJ0Iiwtc10"):
        with pytest.raises(FacadeError) as err:
            decode_cursor(bad)
        assert err.value.code == "INVALID_ARGUMENT"


async def test_end_cursor_costs_one_call_per_page() -> None:
    pages = Pages(range(10))
    first = await fetch_page(pages, 4, None)
    assert first.items == [0, 1, 2, 3] and first.has_next
    second = await fetch_page(pages, 4, first.end_cursor)
    third = await fetch_page(pages, 4, second.end_cursor)
    assert second.items == [4, 5, 6, 7] and third.items == [8, 9] and not third.has_next
    assert len(pages.calls) == 3


async def test_first_is_bounded() -> None:
    for first in (0, 101, -1):
        with pytest.raises(FacadeError):
            await fetch_page(Pages([]), first, None)


@given(
    total=st.integers(0, 250),
    first=st.integers(1, 100),
    start_at=st.integers(0, 250),
    page_max=st.sampled_from([7, 50, 100]),
)
def test_any_edge_cursor_resumes_right_after_its_item(total: int, first: int, start_at: int, page_max: int) -> None:
    import asyncio

    async def scenario() -> None:
        pages = Pages(range(total), page_max)
        collected: list[int] = []
        cursors: list[str] = []
        after = None
        while True:
            page = await fetch_page(pages, 100, after)
            collected += page.items
            cursors += page.cursors
            if not page.has_next:
                break
            after = page.end_cursor
        assert collected == list(range(total))
        if total:
            index = min(start_at, total - 1)
            resumed = await fetch_page(pages, first, cursors[index])
            assert resumed.items == list(range(index + 1, min(total, index + 1 + first)))
            assert resumed.has_next == (index + 1 + first < total)

    asyncio.run(scenario())
