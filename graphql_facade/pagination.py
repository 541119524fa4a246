"""Relay cursors over the services' keyset page tokens.

A cursor is ``base64url(json([page_token, skip]))``: "skip ``skip`` items after the key in
``page_token``". Keyset tokens do not depend on the page size, so every edge gets a real
cursor, and the usual ``after: endCursor`` costs exactly one backend call. The page token
inside is bound by the service to the tenant and the filter (HMAC), so a cursor cannot be
replayed by another partner or with another filter.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from graphql_facade.errors import ErrorCode, FacadeError

__all__ = ["MAX_FIRST", "Fetch", "Page", "check_first", "decode_cursor", "encode_cursor", "fetch_page"]

T = TypeVar("T")
MAX_FIRST = 100
#: Page size the services accept at most (larger values are clamped).
_BACKEND_MAX = 100
#: skip <= 100 and first <= 100 need at most two full pages of 100; services answering shorter pages
#: need more, but a service that keeps answering empty pages with tokens must not loop us forever.
_MAX_FETCHES = 50
Fetch = Callable[[str, int], Awaitable[tuple[Sequence[T], str]]]


class Page(Generic[T]):
    """Items and where each one is: ``marks[i]`` is the (page token, skip) of the cursor of item ``i``.

    Cursors are encoded when asked for (a page read through ``nodes`` needs none of them).
    """

    def __init__(self, items: list[T], marks: list[tuple[str, int]], has_next: bool) -> None:
        self.items = items
        self.marks = marks
        self.has_next = has_next

    @functools.cached_property
    def cursors(self) -> list[str]:
        return [encode_cursor(token, skip) for token, skip in self.marks]

    @property
    def start_cursor(self) -> str | None:
        return encode_cursor(*self.marks[0]) if self.marks else None

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(*self.marks[-1]) if self.marks else None


def _bad(argument: str, description: str) -> FacadeError:
    return FacadeError(
        ErrorCode.INVALID_ARGUMENT,
        f"`{argument}` {description}.",
        extensions={"fieldViolations": [{"field": argument, "description": description}]},
    )


def check_first(first: int, *, maximum: int = MAX_FIRST) -> int:
    if not 1 <= first <= maximum:
        raise _bad("first", f"must be between 1 and {maximum}")
    return first


def encode_cursor(token: str, skip: int) -> str:
    raw = json.dumps([token, skip], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad("after", "is not a cursor of this list") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], str)
        or not isinstance(value[1], int)
        or isinstance(value[1], bool)
        or not 0 <= value[1] <= _BACKEND_MAX
    ):
        raise _bad("after", "is not a cursor of this list")
    return value[0], value[1]


async def fetch_page(fetch: Fetch[T], first: int, after: str | None) -> Page[T]:
    """Up to ``first`` items after the ``after`` cursor; ``fetch(page_token, page_size)`` reads one backend page."""
    check_first(first)
    token, skip = decode_cursor(after) if after else ("", 0)
    items: list[T] = []
    marks: list[tuple[str, int]] = []
    has_next = False
    for _ in range(_MAX_FETCHES):
        wanted = first - len(items)
        batch, next_token = await fetch(token, min(_BACKEND_MAX, skip + wanted))
        window = list(batch[skip : skip + wanted])
        for offset, item in enumerate(window):
            position = skip + offset + 1
            at_end = position == len(batch) and next_token
            marks.append((next_token, 0) if at_end else (token, position))
            items.append(item)
        rest_on_page = len(batch) > skip + len(window)
        if len(items) >= first or not next_token:
            has_next = rest_on_page or bool(next_token)
            break
        if rest_on_page:  # cannot happen: a short window means the page ended
            has_next = True
            break
        skip = max(0, skip - len(batch))
        token = next_token
    else:
        has_next = True  # a service answering empty pages with tokens: stop, the client may go on
    return Page(items, marks, has_next)
