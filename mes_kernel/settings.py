"""Rules every process applies to its own settings: the words for on and off, what a loopback bind
is, and the refusals of insecure values (a template placeholder, a development secret off loopback).

The services (``mes_platform.config``) and the facade (``graphql_facade.config``) read different
variables but refuse the same things in the same words.
"""

from __future__ import annotations

import ipaddress

__all__ = [
    "FALSE",
    "PLACEHOLDER",
    "TRUE",
    "InsecureSettings",
    "dev_refusal",
    "is_loopback",
    "parse_number",
    "refuse_placeholder",
]

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
#: The value of every secret in the Kubernetes secrets template (deploy/k8s/base/secrets.yaml).
PLACEHOLDER = "REPLACE_ME"


class InsecureSettings(ValueError):
    """A development secret off loopback, an empty secret or a template placeholder."""


def is_loopback(host: str) -> bool:
    """``host`` is a loopback address or ``localhost`` (not ``0.0.0.0``, ``::`` or a name)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refuse_placeholder(name: str, value: str) -> None:
    if PLACEHOLDER in value:
        raise InsecureSettings(f"{name} still holds the {PLACEHOLDER} placeholder: set a real value")


def parse_number(name: str, raw: str, default: float, *, minimum: float = 0.0) -> float:
    """The number the setting ``name`` holds (``raw``; blank: ``default``), refused below ``minimum``."""
    raw = raw.strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}: not a number: {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}")
    return value


def dev_refusal(what: str, host: str, *, values: str, process: str, host_setting: str) -> str:
    """Why a development ``values`` (tokens, secrets) is refused for a ``process`` bound to ``host``."""
    return (
        f"{what}: development {values} are accepted only when the {process} binds to loopback "
        f"({host_setting} 127.0.0.1, ::1 or localhost; it is {host!r}) or with MES_DEV_MODE=1 (never in production)"
    )
