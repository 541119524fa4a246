"""The local scrape configuration (``deploy/prometheus/prometheus-local.yml``): its targets are exactly the
``/metrics`` endpoints `mes up` serves with the variables its header gives (the plan `mes up` builds, no
processes), each labelled with its process; Prometheus accepts it with its rule file (system group)."""

from __future__ import annotations

import re

import pytest

from mes_stack.options import StackOptions
from mes_stack.plan import build_plan
from tests.integration.observability.obs_helpers import ROOT, promtool, run

CONFIG = ROOT / "deploy" / "prometheus" / "prometheus-local.yml"


def _documented_env() -> dict[str, str]:
    """The ``MES_*_METRICS_PORT=...`` assignments of the header's `dev.py up` line."""
    line = next(line for line in CONFIG.read_text().splitlines() if "dev.py up" in line and "METRICS_PORT=" in line)
    return dict(re.findall(r"(MES_[A-Z]+_METRICS_PORT)=(\d+)", line))


def test_the_targets_are_what_mes_up_serves_with_the_documented_variables() -> None:
    env = _documented_env()
    options = StackOptions.resolve(env, data_dir="/data")
    plan = build_plan(options, env, python="python3", nats_binary="nats-server", facade_available=True)
    served = {spec.name: spec.metrics_url for spec in plan.processes if spec.metrics_url}
    pairs = re.findall(r'targets:\s*\["([^"]+)"\]\s*\n\s*labels:\s*\{process:\s*([\w-]+)\}', CONFIG.read_text())
    targets = {process: f"http://{address}/metrics" for address, process in pairs}
    assert targets == served
    assert {"facade", "orders", "orders-worker", "production-worker"} <= set(targets)


@pytest.mark.system
def test_prometheus_accepts_the_configuration_and_its_rules(request: pytest.FixtureRequest) -> None:
    result = run([promtool(request), "check", "config", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
