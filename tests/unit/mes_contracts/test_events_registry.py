"""The registry of events is the only place that spells a subject."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from google.protobuf.message import DecodeError

from mes_contracts import events

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ("services", "mes_kernel", "mes_platform", "mes_stack", "graphql_facade", "clients", "tests", "perf")
REGISTRY = ROOT / "mes_contracts" / "events.py"


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_every_subject_is_registered_once_with_a_message_type() -> None:
    subjects = [e.subject for e in events.ALL_EVENTS]
    assert len(subjects) == len(set(subjects))
    for event in events.ALL_EVENTS:
        assert events.by_subject(event.subject) is event
        assert event.stream in events.ALL_STREAMS
        assert event.subject.startswith(event.stream.service + ".")


def test_decode_parses_by_subject_and_refuses_unknown_subjects() -> None:
    payload = events.ORDER_CANCELLED.message(order_id="o-1").SerializeToString()
    decoded = events.decode(events.ORDER_CANCELLED.subject, payload)
    assert isinstance(decoded, events.ORDER_CANCELLED.message)
    with pytest.raises(events.UnknownSubject):
        events.decode("orders.order.vanished", payload)
    with pytest.raises(DecodeError):
        events.ORDER_CANCELLED.decode(b"\xff\xff\xff")


def test_no_subject_string_is_written_outside_the_registry() -> None:
    subjects = {e.subject for e in events.ALL_EVENTS}
    offenders: list[str] = []
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*.py"):
            if path == REGISTRY or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in subjects and id(node) not in skip:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert offenders == []
