"""Client methods made from a table row, for the shapes many RPCs share.

A class attribute ``get_order = by_name(_GET_ORDER, lambda response: response.order)`` is a typed method
``await client.get_order("orders/1", partner=..., timeout=...) -> Order``. The shapes:

* :func:`by_name`: ``(name | request, /, *, partner, timeout)`` (Get, Commit, Close, ...),
* :func:`batch_get`: ``(names | request, /, *, allow_missing, partner, timeout)``,
* :func:`list_page`: ``(request=None, /, *, page_size, page_token, partner, timeout)`` (Lists without filters),
* :func:`iter_pages`: ``(*, page_size=100, limit=None, partner, timeout)`` -> every item of such a List.

RPCs with fields of their own keep a hand-written signature whose body is one
``ServiceClient._call_with`` (or ``_iterate``). The bound callable is made on first use and kept
on the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Generic, Self, TypeVar, overload

from google.protobuf.message import Message

from clients._base import Rpc, ServiceClient
from clients._pagination import Page

__all__ = ["Method", "batch_get", "by_name", "iter_pages", "list_page"]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp")
Out = TypeVar("Out")
P = TypeVar("P", bound=Page)
T = TypeVar("T")
B = TypeVar("B")


class Method(Generic[B]):
    """A non-data descriptor: ``make(client)``, the bound callable, cached in the client's ``__dict__``."""

    def __init__(self, make: Callable[[ServiceClient], B], doc: str) -> None:
        self._make = make
        self._name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, client: ServiceClient, owner: type[Any]) -> B: ...

    def __get__(self, client: ServiceClient | None, owner: type[Any]) -> Self | B:
        if client is None:
            return self
        bound = self._make(client)
        client.__dict__[self._name] = bound
        return bound


class _Call(Generic[Req, Resp]):
    __slots__ = ("_client", "_rpc")

    def __init__(self, client: ServiceClient, rpc: Rpc[Req, Resp]) -> None:
        self._client, self._rpc = client, rpc


class NameCall(_Call[Req, Resp], Generic[Req, Resp, Out]):
    __slots__ = ("_result",)

    def __init__(self, client: ServiceClient, rpc: Rpc[Req, Resp], result: Callable[[Resp], Out]) -> None:
        super().__init__(client, rpc)
        self._result = result

    async def __call__(self, name: str | Req, /, *, partner: str | None = None, timeout: float | None = None) -> Out:
        return self._result(await self._client._unary(self._rpc, name, partner, timeout))


class BatchCall(_Call[Req, Resp]):
    __slots__ = ()

    async def __call__(
        self,
        names: Sequence[str] | Req,
        /,
        *,
        allow_missing: bool | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> Resp:
        return await self._client._unary(self._rpc, names, partner, timeout, allow_missing=allow_missing)


class PageCall(_Call[Req, Resp]):
    __slots__ = ()

    async def __call__(
        self,
        request: Req | None = None,
        /,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> Resp:
        return await self._client._unary(
            self._rpc, request, partner, timeout, page_size=page_size, page_token=page_token
        )


class IterCall(_Call[Any, P], Generic[P, T]):
    __slots__ = ("_items",)

    def __init__(self, client: ServiceClient, rpc: Rpc[Any, P], items: Callable[[P], Iterable[T]]) -> None:
        super().__init__(client, rpc)
        self._items = items

    def __call__(
        self,
        *,
        page_size: int = 100,
        limit: int | None = None,
        partner: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[T]:
        return self._client._pages(self._rpc, self._items, limit, partner, timeout, page_size=page_size)


def _same(response: Resp) -> Resp:
    return response


@overload
def by_name(rpc: Rpc[Req, Resp], *, doc: str = "") -> Method[NameCall[Req, Resp, Resp]]: ...


@overload
def by_name(
    rpc: Rpc[Req, Resp], result: Callable[[Resp], Out], *, doc: str = ""
) -> Method[NameCall[Req, Resp, Out]]: ...


def by_name(rpc: Rpc[Req, Resp], result: Callable[[Resp], Any] = _same, *, doc: str = "") -> Method[Any]:
    """``(name | request, /, *, partner=None, timeout=None) -> result(response)`` (the response by default)."""
    return Method(lambda client: NameCall(client, rpc, result), doc)


def batch_get(rpc: Rpc[Req, Resp], *, doc: str = "") -> Method[BatchCall[Req, Resp]]:
    """``(names | request, /, *, allow_missing=None, partner=None, timeout=None) -> response``: results in the
    order of ``names``; missing ones fail NOT_FOUND unless ``allow_missing``."""
    return Method(lambda client: BatchCall(client, rpc), doc)


def list_page(rpc: Rpc[Req, Resp], *, doc: str = "") -> Method[PageCall[Req, Resp]]:
    """``(request=None, /, *, page_size=None, page_token=None, partner=None, timeout=None) -> one page``."""
    return Method(lambda client: PageCall(client, rpc), doc)


def iter_pages(rpc: Rpc[Any, P], items: Callable[[P], Iterable[T]], *, doc: str = "") -> Method[IterCall[P, T]]:
    """``(*, page_size=100, limit=None, partner=None, timeout=None) -> every item`` (``timeout`` per page)."""
    return Method(lambda client: IterCall(client, rpc, items), doc)
