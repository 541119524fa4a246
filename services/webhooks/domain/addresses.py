"""Where deliveries may go: endpoint URLs and the addresses a delivery may connect to.

Two checks, both pure:

* :func:`parse_endpoint_url` when an endpoint is registered or changed: ``https`` only (``http``
  too with the development flag), a host, no credentials, no fragment, at most
  :data:`MAX_URL_LENGTH` characters; a literal address or ``localhost`` must pass the address
  policy;
* :func:`address_refusal` at **every** delivery, on every address the host resolves to: private,
  loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) and documentation
  ranges are refused, IPv4 and IPv6 alike, including IPv4 addresses carried inside IPv6 ones
  (mapped, NAT64, 6to4, Teredo). The development flag lets everything through. The sender then
  connects to the very address it checked, so a DNS answer that changes between the check and
  the connection (rebinding) cannot take the delivery elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

__all__ = ["MAX_URL_LENGTH", "IPAddress", "Target", "address_refusal", "parse_endpoint_url", "url_problem"]

MAX_URL_LENGTH = 2048
_MAX_HOST_LENGTH = 253
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Ranges never reached without the development flag, beyond what ``ipaddress`` flags.
_REFUSED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    )
)  # fmt: skip
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in ("::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: One label of a host name: letters, digits, '-' inside, '_' allowed (some providers use it).
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


@dataclass(frozen=True)
class Target:
    """A checked endpoint URL, split for the sender."""

    url: str
    scheme: str
    #: Lower-case ASCII host name (IDNA), or the address without brackets.
    host: str
    port: int
    #: Path and query as sent (``/`` at least).
    path: str

    @property
    def host_header(self) -> str:
        """``Host`` as the URL names it (the port only when not the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> str:
        """This URL with ``address`` in place of the host (what the sender connects to)."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a delivery may not connect to ``address`` (None: it may)."""
    if allow_private:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            reason = address_refusal(inner, allow_private=False)
            return f"{reason} (inside {address})" if reason else None
        if address.scope_id:
            return f"{address} is a scoped (link-local) address"
        refused = any(address in net for net in _REFUSED_V6)
    else:
        refused = any(address in net for net in _REFUSED_V4)
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_private or refused:
        return f"{address} is a private or special-purpose address"
    if address.is_reserved or address.is_unspecified or not address.is_global:
        return f"{address} is a reserved address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _ascii_host(host: str) -> str | None:
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.rstrip(".").split(".")
    if not ascii_host or len(ascii_host) > _MAX_HOST_LENGTH:
        return None
    if not all(len(label) <= 63 and _LABEL.match(label) for label in labels):
        return None
    return ascii_host


def _split(url: str) -> SplitResult | str:
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if not url.isprintable() or any(c.isspace() for c in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    return parts


def url_problem(url: str, *, allow_insecure: bool) -> str | None:
    """What is wrong with ``url`` as an endpoint URL (None: nothing)."""
    result = parse_endpoint_url(url, allow_insecure=allow_insecure)
    return result if isinstance(result, str) else None


def parse_endpoint_url(url: str, *, allow_insecure: bool) -> Target | str:
    """The checked :class:`Target`, or a sentence saying what is wrong with ``url``."""
    parts = _split(url.strip())
    if isinstance(parts, str):
        return parts
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_insecure and scheme == "http"):
        return "must be an https:// URL" if not allow_insecure else "must be an http:// or https:// URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry credentials (user:password@)"
    if parts.fragment or url.rstrip().endswith("#"):
        return "must not have a #fragment"
    raw_host = parts.hostname or ""
    literal = _literal(raw_host)
    host = str(literal) if literal is not None else _ascii_host(raw_host)
    if not host:
        return "must name a valid host"
    if literal is None and (host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost")):
        literal = ipaddress.IPv4Address("127.0.0.1")
    if literal is not None:
        refusal = address_refusal(literal, allow_private=allow_insecure)
        if refusal is not None:
            return f"must not point at a private or local address ({refusal})"
    port = parts.port if parts.port is not None else (443 if scheme == "https" else 80)
    if port == 0:
        return "must not use port 0"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, path=path)
