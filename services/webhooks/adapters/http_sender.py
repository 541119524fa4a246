"""The :class:`~services.webhooks.service_layer.ports.Sender` on httpx: one POST per attempt.

Every attempt:

1. parses the endpoint URL again (:func:`parse_endpoint_url`);
2. resolves the host and checks **every** address it resolves to with :func:`address_refusal`
   (refused: private, loopback, link-local, multicast, reserved... unless the development
   flag is set);
3. connects to the checked address itself (the URL given to httpx carries the address, the
   ``Host`` header and the TLS server name carry the host name, so certificates are verified
   for the host name) -- a DNS answer that changes after the check cannot redirect it;
4. does not follow redirects, ignores proxy variables, bounds the connect, read and total time,
   and reads at most ``max_response_bytes`` of the answer (then drops the connection).

Connections are kept per endpoint and host (so a connection made for one host name is never
used for another) and closed after ``idle_s`` without use.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from services.webhooks.domain.addresses import IPAddress, Target, address_refusal, parse_endpoint_url
from services.webhooks.service_layer.ports import Outbound, SendResult

__all__ = ["HttpSender", "Resolver", "SenderLimits", "resolve_host"]

#: host, port -> the addresses it resolves to, in the resolver's order.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (the operating system's resolver), without duplicates."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class SenderLimits:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    #: The whole attempt: resolution, connection, request and response.
    total_timeout_s: float = 15.0
    max_response_bytes: int = 64 * 1024
    connections_per_endpoint: int = 4
    idle_s: float = 300.0


class HttpSender:
    def __init__(
        self,
        *,
        allow_private: bool,
        limits: SenderLimits | None = None,
        resolve: Resolver = resolve_host,
        verify: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``resolve`` and ``transport`` (httpx's, instead of real connections) are for tests."""
        self._allow_private = allow_private
        self._transport = transport
        self.limits = limits or SenderLimits()
        self._resolve = resolve
        self._verify = verify or ssl.create_default_context()
        self._clients: dict[tuple[str, str], tuple[httpx.AsyncClient, float]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._timeout = httpx.Timeout(
            connect=self.limits.connect_timeout_s,
            read=self.limits.read_timeout_s,
            write=self.limits.read_timeout_s,
            pool=self.limits.total_timeout_s,
        )

    async def send(self, request: Outbound) -> SendResult:
        target = parse_endpoint_url(request.url, allow_insecure=self._allow_private)
        if isinstance(target, str):
            return SendResult(0, f"invalid endpoint URL: {target}")
        limit = self.limits.total_timeout_s
        try:
            async with asyncio.timeout(limit):
                return await self._send(request, target)
        except TimeoutError:
            return SendResult(0, f"no answer within {limit:g} s")
        except httpx.ConnectTimeout:
            return SendResult(0, f"connection not established within {self.limits.connect_timeout_s:g} s")
        except httpx.ReadTimeout:
            return SendResult(0, f"no answer within {self.limits.read_timeout_s:g} s of reading")
        except httpx.TimeoutException:
            return SendResult(0, "timed out")
        except httpx.ConnectError as exc:
            return SendResult(0, f"cannot connect: {_short(exc)}")
        except httpx.HTTPError as exc:
            return SendResult(0, f"{type(exc).__name__}: {_short(exc)}")
        except OSError as exc:
            return SendResult(0, f"network error: {_short(exc)}")

    async def _send(self, request: Outbound, target: Target) -> SendResult:
        try:
            addresses = await self._resolve(target.host, target.port)
        except OSError as exc:
            return SendResult(0, f"cannot resolve {target.host}: {_short(exc)}")
        if not addresses:
            return SendResult(0, f"cannot resolve {target.host}: no address")
        for address in addresses:
            refusal = address_refusal(address, allow_private=self._allow_private)
            if refusal is not None:
                return SendResult(0, f"address not allowed: {target.host} resolves to {refusal}")
        address = addresses[0]
        client = self._client(request.endpoint_id, target.host)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        outgoing = client.build_request(
            "POST",
            target.url_for(address),
            content=request.body,
            headers={**request.headers, "host": target.host_header},
            extensions=extensions,
        )
        response = await client.send(outgoing, stream=True)
        try:
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > self.limits.max_response_bytes:
                    break
        finally:
            await response.aclose()
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(status)
        if 300 <= status < 400:
            return SendResult(status, f"HTTP {status}: redirects are not followed")
        return SendResult(status, f"HTTP {status}")

    def _client(self, endpoint_id: str, host: str) -> httpx.AsyncClient:
        now = time.monotonic()
        key = (endpoint_id, host)
        found = self._clients.get(key)
        if found is not None:
            self._clients[key] = (found[0], now)
            return found[0]
        self._close_idle(now)
        width = self.limits.connections_per_endpoint
        client = httpx.AsyncClient(
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
            verify=self._verify,
            transport=self._transport,
            limits=httpx.Limits(max_connections=width, max_keepalive_connections=width, keepalive_expiry=30.0),
        )
        self._clients[key] = (client, now)
        return client

    def _close_idle(self, now: float) -> None:
        idle = [key for key, (_, used) in self._clients.items() if now - used > self.limits.idle_s]
        for key in idle:
            client, _ = self._clients.pop(key)
            task = asyncio.get_running_loop().create_task(client.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def forget(self, endpoint_id: str) -> None:
        for key in [k for k in self._clients if k[0] == endpoint_id]:
            client, _ = self._clients.pop(key)
            await client.aclose()

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        await asyncio.gather(*(client.aclose() for client, _ in clients.values()), return_exceptions=True)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
