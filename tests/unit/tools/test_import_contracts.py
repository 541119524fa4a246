"""The ``forbidden_except`` import-linter contract on a small package built on disk."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest
from importlinter.configuration import configure

from tools.import_contracts import ForbiddenExceptContract

FILES = {
    "shop/__init__.py": "",
    "shop/svc/__init__.py": "",
    "shop/svc/layer/__init__.py": "",
    "shop/svc/layer/ports.py": "",
    "shop/svc/layer/orders.py": "from shop.svc.layer import ports\n",
    "shop/svc/layer/billing.py": "",
    "shop/svc/adapters/__init__.py": "",
    "shop/svc/adapters/repo.py": "from shop.svc.layer import ports\nfrom shop.svc.layer import orders\n",
    "shop/svc/adapters/clean.py": "from shop.svc.layer import ports\n",
}


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[grimp.ImportGraph]:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    configure()  # import-linter's settings (its timer), as lint-imports does on start
    sys.path.insert(0, str(tmp_path))
    try:
        yield grimp.build_graph("shop", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))


def contract(sources: list[str], forbidden: list[str], allowed: list[str]) -> ForbiddenExceptContract:
    return ForbiddenExceptContract(
        name="adapters",
        session_options={"root_packages": ["shop"]},
        contract_options={"source_modules": sources, "forbidden_modules": forbidden, "allowed_modules": allowed},
    )


def test_the_allowed_module_is_left_out_of_the_forbidden_ones(graph: grimp.ImportGraph) -> None:
    check = contract(["shop.svc.adapters"], ["shop.svc.layer.*"], ["shop.svc.layer.ports"]).check(graph, False)
    assert not check.kept
    broken = {(c["downstream_module"], c["upstream_module"]) for c in check.metadata["invalid_chains"]}
    assert broken == {("shop.svc.adapters", "shop.svc.layer.orders")}
    clean = contract(["shop.svc.adapters.clean"], ["shop.svc.layer.*"], ["shop.svc.layer.ports"])
    assert clean.check(graph, False).kept


def test_indirect_imports_through_allowed_modules_count(graph: grimp.ImportGraph) -> None:
    # Forbidding ports alone: repo imports it directly and through the (allowed) orders.
    allowed = ["shop.svc.layer.orders", "shop.svc.layer.billing"]
    [found] = (
        contract(["shop.svc.adapters.repo"], ["shop.svc.layer.*"], allowed)
        .check(graph, False)
        .metadata["invalid_chains"]
    )
    chains = sorted([link["imported"] for link in chain] for chain in found["chains"])
    assert chains == [["shop.svc.layer.orders", "shop.svc.layer.ports"], ["shop.svc.layer.ports"]]


def test_allowed_modules_must_be_forbidden_ones(graph: grimp.ImportGraph) -> None:
    with pytest.raises(ValueError, match=r"not forbidden: \['shop.svc.adapters.clean'\]"):
        contract(["shop.svc.adapters.repo"], ["shop.svc.layer.*"], ["shop.svc.adapters.clean"]).check(graph, False)
    with pytest.raises(ValueError, match="nothing forbidden"):
        contract(["shop.svc.adapters"], ["shop.svc.layer.ports"], ["shop.svc.layer.ports"]).check(graph, False)
