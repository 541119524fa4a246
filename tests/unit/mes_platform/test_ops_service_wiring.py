"""Each service's own wiring stays small: the start sequence is ``mes_platform.runtime``'s, and a
``bootstrap.py`` states only what is the service's own (servicer, consumers, tasks)."""

from __future__ import annotations

from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[3] / "services"
BOOTSTRAPS = sorted(SERVICES.glob("*/bootstrap.py"))
MAX_LINES = 60


def test_every_service_has_a_bootstrap() -> None:
    assert {path.parent.name for path in BOOTSTRAPS} >= {"orders", "inventory", "production", "webhooks"}


@pytest.mark.parametrize("path", BOOTSTRAPS, ids=lambda path: path.parent.name)
def test_a_bootstrap_states_only_its_own_wiring(path: Path) -> None:
    text = path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= MAX_LINES, f"{path.parent.name}/bootstrap.py has {len(lines)} non-blank lines"
    assert "from mes_platform.runtime import" in text and "ServiceSpec(" in text
    assert "grpc.aio.server" not in text and "signal" not in text  # the runtime starts and stops it
