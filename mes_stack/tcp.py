"""Free-port checks before anything starts, with messages that name the variable to change."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable

from mes_stack.plan import PortClaim

__all__ = ["PortInUseError", "check_ports", "port_in_use"]


class PortInUseError(RuntimeError):
    """One or more planned ports are taken; the message lists each with its variable."""


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on ``host:port`` (or the port cannot be bound there)."""
    bind_host = "" if host == "0.0.0.0" else host
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so connections in TIME_WAIT do not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    probe_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((probe_host, port)) == 0


def check_ports(claims: Iterable[PortClaim], in_use: Callable[[str, int], bool] = port_in_use) -> None:
    """Raise ``PortInUseError`` listing every claimed port that is not free."""
    problems = [
        f"  port {claim.port} on {claim.host} ({claim.what}) is already in use: set {claim.env_var} to a free port"
        for claim in claims
        if in_use(claim.host, claim.port)
    ]
    if problems:
        raise PortInUseError("cannot start the stack:\n" + "\n".join(problems))
