"""Helpers of the observability tests (integration and e2e): Prometheus text as the processes serve it,
the metric names a PromQL expression reads, the expressions of the alert rules and of the Grafana
dashboard, and Debian's ``promtool`` (system group)."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests._infra.ci import require_system_tool

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mes-overview.json"
#: Debian's package: ``promtool`` and the ``prometheus`` server (tests/README.md, the system group).
INSTALL_PROMETHEUS = "apt-get install -y prometheus"

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: Words of PromQL that are not metric names (functions and aggregations are told by the "(" after them).
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
    | {"inf", "nan"}
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_CLAUSE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def promtool(request: pytest.FixtureRequest) -> str:
    """Path of ``promtool`` (skipped locally with the install command when missing, failed in CI)."""
    return require_system_tool(request, "promtool", install=INSTALL_PROMETHEUS)


def run(argv: list[str], *, stdin: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT)


def scrape(url: str, timeout: float = 5.0) -> str:
    """The Prometheus text a ``/metrics`` endpoint serves (no proxy, whatever the environment says)."""
    with _NO_PROXY.open(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode()


def exported_names(text: str) -> set[str]:
    """Every series name a scrape can hold: its families as ``# TYPE`` declares them, a histogram's
    ``_bucket``, ``_count`` and ``_sum`` and a summary's ``_count`` and ``_sum`` included (families
    without samples yet count: the process exports them)."""
    names: set[str] = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            name, kind = parts[2], parts[3]
            names.add(name)
            if kind in ("histogram", "summary"):
                names |= {f"{name}_count", f"{name}_sum"}
            if kind == "histogram":
                names.add(f"{name}_bucket")
    return names


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels`` (None: no such sample)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression reads."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _CLAUSE.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":
            continue  # a number's exponent or a duration's unit (1e3, 5m)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group(0).lower() in _KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def dashboard_expressions(path: Path = DASHBOARD) -> list[str]:
    """The PromQL of every panel target of a Grafana dashboard (rows' panels included)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            expr = node.get("expr")
            if isinstance(expr, str):
                found.append(expr)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(path.read_text()))
    return found


def rule_expressions(path: Path = ALERTS) -> dict[str, str]:
    """Rule name (``record`` or ``alert``) -> its ``expr`` in a rule file written the way ``alerts.yml`` is
    (``expr:`` inline, or folded with ``>-`` on the lines below)."""
    rules: dict[str, str] = {}
    name = ""
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        head = re.match(r"\s*-\s*(?:record|alert):\s*(\S+)", line)
        if head:
            name = head.group(1)
            continue
        expr = re.match(r"(\s*)expr:\s*(.*)$", line)
        if expr is None:
            continue
        indent, value = len(expr.group(1)), expr.group(2).strip()
        if value in (">-", ">", "|", "|-"):
            body = []
            for following in lines[index + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following.strip())
            value = " ".join(part for part in body if part)
        rules[name] = value
    return rules


def recorded_names(path: Path = ALERTS) -> set[str]:
    return {m.group(1) for m in re.finditer(r"-\s*record:\s*(\S+)", path.read_text())}
