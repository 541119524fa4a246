"""Free-port checks name the variable to change (the probe is faked: no sockets)."""

from __future__ import annotations

import pytest

from mes_stack.options import StackOptions
from mes_stack.plan import PortClaim, build_plan
from mes_stack.tcp import PortInUseError, check_ports


def _plan() -> list[PortClaim]:
    options = StackOptions.resolve({}, data_dir="/tmp/mes-test")
    return build_plan(options, {}, python="python", nats_binary="/bin/nats-server", facade_available=True).claims()


def test_all_free_passes() -> None:
    check_ports(_plan(), in_use=lambda host, port: False)


def test_taken_ports_are_listed_with_their_variables() -> None:
    taken = {50152, 14322}
    with pytest.raises(PortInUseError) as err:
        check_ports(_plan(), in_use=lambda host, port: port in taken)
    message = str(err.value)
    assert "port 50152 on 127.0.0.1 (inventory gRPC port) is already in use: set MES_INVENTORY_GRPC_PORT" in message
    assert "port 14322" in message and "MES_STACK_NATS_PORT" in message
    assert "MES_ORDERS_GRPC_PORT" not in message


def test_every_claim_is_checked_on_the_bind_host() -> None:
    seen: list[tuple[str, int]] = []

    def probe(host: str, port: int) -> bool:
        seen.append((host, port))
        return False

    check_ports(_plan(), in_use=probe)
    apis, workers = [50151, 50152, 50153, 50154, 50155], [51151, 51152, 51153, 51154, 51155]
    assert sorted(port for _, port in seen) == [8180, 14322, 18180, 18322, *apis, *workers]  # 18180: facade metrics
    assert {host for host, _ in seen} == {"127.0.0.1"}
