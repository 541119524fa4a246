"""A ``grpc.aio`` server interceptor that wraps each method's handler once.

:class:`WrappingInterceptor` asks the servicer for the handler of every call and answers the
wrapper :meth:`~WrappingInterceptor.wrap` built for it; the wrapper is kept per method and built
again only when the servicer hands out another handler object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc

__all__ = ["Handler", "WrappingInterceptor"]

#: A method handler as ``grpc.aio`` hands them out (not subscriptable at run time).
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Answers :meth:`wrap`'s wrapper of each method's handler, built once per handler."""

    def __init__(self) -> None:
        #: Per method: the handler it was given and the wrapped one (rebuilt when the handler changes).
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def wrap(self, method: str, handler: Handler) -> Handler:
        """The handler to serve ``method`` with instead of ``handler`` (``handler`` itself to leave it)."""
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapper = self.wrap(method, handler)
        self._wrapped[method] = (handler, wrapper)
        return wrapper
