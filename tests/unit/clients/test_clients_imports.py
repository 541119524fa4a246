"""``clients`` imports the generated ``mes.*`` code, ``mes_contracts``, ``mes_kernel`` and third-party
packages only, and its modules import each other without cycles."""

from __future__ import annotations

from tests.unit.clients.imports_graph import cycles, forbidden_imports, graph

FIRST_PARTY = ("mes", "mes_kernel", "mes_platform", "mes_contracts", "mes_stack", "services", "graphql_facade", "perf")
ALLOWED = ("mes.", "mes_contracts", "mes_kernel")


def test_clients_import_only_the_contracts_and_the_kernel() -> None:
    assert forbidden_imports("clients", FIRST_PARTY, ALLOWED) == {}


def test_no_import_cycles_in_clients() -> None:
    assert cycles(graph("clients")) == []
