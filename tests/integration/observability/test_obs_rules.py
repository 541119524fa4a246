"""The alert rules (``deploy/prometheus/alerts.yml``): valid for Prometheus (``promtool check rules``),
behaving as their unit tests say (``promtool test rules``), and each alert saying how urgent it is and
where its runbook is (a section of ``docs/observability.md``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.integration.observability.obs_helpers import ALERT_TESTS, ALERTS, ROOT, promtool, rule_expressions, run

DOCS = ROOT / "docs" / "observability.md"


@pytest.mark.system
def test_promtool_accepts_the_rules(request: pytest.FixtureRequest) -> None:
    result = run([promtool(request), "check", "rules", str(ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in result.stdout


@pytest.mark.system
def test_the_rules_pass_their_unit_tests(request: pytest.FixtureRequest) -> None:
    result = run([promtool(request), "test", "rules", str(ALERT_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.system
def test_a_broken_expectation_fails_the_unit_tests(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """The unit tests compare what they say: a wrong annotation is reported with what was got."""
    shutil.copy(ALERTS, tmp_path / ALERTS.name)
    tests = ALERT_TESTS.read_text().replace("the outbox of orders has an event unpublished for 7m 30s", "7m 31s")
    (tmp_path / ALERT_TESTS.name).write_text(tests)
    result = run([promtool(request), "test", "rules", str(tmp_path / ALERT_TESTS.name)])
    assert result.returncode != 0
    assert "MesOutboxStalled" in result.stdout + result.stderr


def _alerts() -> list[tuple[str, str]]:
    """(alert name, its block of alerts.yml)."""
    text = ALERTS.read_text()
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"-\s*alert:\s*(\S+)", text)]
    ends = [pos for pos, _ in starts[1:]] + [len(text)]
    return [(name, text[pos:end]) for (pos, name), end in zip(starts, ends, strict=True)]


def test_every_alert_has_a_severity_and_a_runbook_section() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in DOCS.read_text().splitlines()
        if line.startswith("#")
    }
    alerts = _alerts()
    assert {name for name, _ in alerts} >= {
        "MesGrpcHighErrorRatio",
        "MesGraphQLHighErrorRatio",
        "MesOutboxStalled",
        "MesConsumerLagGrowing",
        "MesDeadLetters",
        "MesReplicaLagHigh",
    }
    for name, block in alerts:
        assert re.search(r"severity:\s*(page|ticket)\b", block), name
        runbook = re.search(r"runbook:\s*docs/observability\.md#(\S+)", block)
        assert runbook is not None, name
        assert runbook.group(1) == name.lower() and runbook.group(1) in headings, (name, runbook.group(1))
