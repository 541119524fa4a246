"""The performance suites stay importable and their documents valid (no load, no timing).

Locustfiles are only parsed: importing them would let gevent patch the test process.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from graphql import parse, validate

from graphql_facade.schema import build_schemas

PERF = Path(__file__).resolve().parents[3] / "perf"
MODULES = [
    "perf._common",
    "perf._edge_bench",
    "perf._edge_load",
    "perf._facade_bench",
    "perf._http",
    "perf._intake_bench",
    "perf._isolation_bench",
    "perf._load",
    "perf._locust_common",
    "perf._report",
    "perf._setup",
    "perf._stack",
    "perf._stats",
    "perf._baseline",
    "perf.bench",
    "perf._busy_bench",
    "perf._busy_driver",
    "perf._drain",
    "perf._flame",
    "perf._pg",
    "perf._read_bench",
    "perf._read_scenarios",
    "perf._saga_bench",
    "perf._saga_floor",
    "perf._sqlboard",
    "perf._wrk",
    "perf.profile",
    "perf.readme_floor",
    "perf.replay_attacks",
    "perf.read_your_writes_bench",
    "perf.uncached_ab",
    "perf.live_bench",
    "perf._live_match",
    "perf._live_pages",
    "perf.web_bench",
    "perf.analytics_bench",
    "perf.datagen",
    "perf.datagen.__main__",
]
#: Which schema each document is written for.
AUDIENCE = {
    "partner_heaviest": "partner",
    "board": "operator",
    "board_page": "operator",
    "dashboard": "operator",
    "order_detail": "operator",
    "work_centers": "operator",
    "submit_order": "partner",
    "order_status": "partner",
    "partner_orders": "partner",
    "catalogue": "partner",
}


@pytest.mark.parametrize("module", MODULES)
def test_bench_modules_import(module: str) -> None:
    importlib.import_module(module)


@pytest.mark.parametrize("path", sorted(PERF.glob("locustfile_*.py")), ids=lambda p: p.name)
def test_locustfiles_parse(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes, f"{path.name} defines no user class"


def test_grpc_locustfile_switches_grpc_to_gevent_first() -> None:
    tree = ast.parse((PERF / "locustfile_grpc.py").read_text(encoding="utf-8"))
    calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert calls and ast.unparse(calls[0]) == "grpc_gevent.init_gevent()"
    first_call = tree.body.index(calls[0])
    assert all(not isinstance(n, ast.ImportFrom) or n.module != "locust" for n in tree.body[:first_call])


def test_every_query_file_is_known_and_valid() -> None:
    schemas = build_schemas()
    files = {p.stem: p for p in (PERF / "queries").glob("*.graphql")}
    assert set(files) == set(AUDIENCE)
    for name, path in files.items():
        schema = schemas.operator if AUDIENCE[name] == "operator" else schemas.partner
        errors = validate(schema._schema, parse(path.read_text(encoding="utf-8")))
        assert not errors, (name, [e.message for e in errors])
