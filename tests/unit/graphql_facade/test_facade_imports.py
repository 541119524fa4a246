"""``graphql_facade`` imports ``clients``, ``mes_kernel``, the generated ``mes.*`` code, ``mes_contracts``,
``mes_platform.messaging`` and ``mes_platform.telemetry`` only, and its modules (with the clients') import
each other without cycles."""

from __future__ import annotations

from tests.unit.clients.imports_graph import cycles, forbidden_imports, graph

FIRST_PARTY = ("mes", "mes_kernel", "mes_platform", "mes_contracts", "mes_stack", "services", "clients", "perf")
ALLOWED = ("clients", "mes_kernel", "mes.", "mes_contracts", "mes_platform.messaging", "mes_platform.telemetry")


def test_the_facade_imports_only_what_it_may() -> None:
    assert forbidden_imports("graphql_facade", FIRST_PARTY, ALLOWED) == {}


def test_no_import_cycles_in_the_facade_and_the_clients() -> None:
    assert cycles(graph("graphql_facade", "clients")) == []
