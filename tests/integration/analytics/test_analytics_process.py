"""``python -m services.analytics`` refuses to start on an unknown plant time zone, with one line
naming the setting (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_analytics_process_stops_on_an_unknown_time_zone(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen'}",
        "MES_DATA_DIR": str(tmp_path),
        "MES_ANALYTICS_TIME_ZONE": "Atlantis/Capital",
        "MES_ANALYTICS_GRPC_PORT": "0",
    }
    env.pop("MES_NATS_URL", None)
    env.pop("NATS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "services.analytics"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line == (
        "analytics: MES_ANALYTICS_TIME_ZONE: 'Atlantis/Capital' is not a known IANA time zone "
        "(for example Europe/Rome or UTC)"
    )
