"""How tools find a stack: mesctl dials the addresses of the running local stack (its stack.json)
when no flag or MES_<SVC>_ADDR gives them, and says so on stderr when it falls back to a default."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.e2e._stack import RunningStack, run_module, stack_env


def _mesctl(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module("clients.cli", "--output", "json", "--deadline", "5", *args, env=env, cwd=cwd, timeout=60)


def _without_addresses(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.endswith("_ADDR") and k != "MES_DATA_DIR"}


def test_mesctl_uses_the_running_stack_and_names_a_default_it_falls_back_to(
    run_stack: Callable[..., RunningStack], tmp_path: Path
) -> None:
    stack = run_stack("--no-demo", "--no-facade")
    bare = _without_addresses(stack.env)

    # From the stack's data folder: the addresses come from its stack.json, without a word.
    found = _mesctl({**bare, "MES_DATA_DIR": str(stack.data_dir)}, tmp_path, "partners", "list")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == [] and "from the defaults" not in found.stderr

    # A flag or MES_<SVC>_ADDR wins, silently too.
    flagged = _mesctl(bare, tmp_path, "--orders-addr", stack.address("orders"), "partners", "list")
    assert flagged.returncode == 0 and "from the defaults" not in flagged.stderr

    # Elsewhere, with nothing to go by: the default address is named before the call.
    nowhere = _mesctl(bare, tmp_path, "partners", "list")
    assert "mesctl: no stack found at var/stack.json; using 127.0.0.1:50151 (orders) from the defaults" in (
        nowhere.stderr
    )

    # A stack.json left by a mes up that is gone does not count.
    stale = tmp_path / "stale"
    stale.mkdir()
    state = json.loads((stack.data_dir / "stack.json").read_text())
    (stale / "stack.json").write_text(json.dumps({**state, "pid": 2**22 + 4321}))  # above pid_max
    old = _mesctl({**bare, "MES_DATA_DIR": str(stale)}, tmp_path, "partners", "list")
    assert f"no stack found at {stale}/stack.json (its mes up, pid {2**22 + 4321}, is not running)" in old.stderr


def test_mes_demo_data_names_a_default_address_instead_of_the_services_listen_port(tmp_path: Path) -> None:
    env = _without_addresses(stack_env())  # MES_<SVC>_GRPC_PORT set: the port a service listens on
    done = run_module(
        "mes_stack", "demo-data", "--data-dir", str(tmp_path / "none"), env={**env, "MES_DEADLINE_S": "1"}, timeout=120
    )
    assert f"mes: no stack found at {tmp_path / 'none'}/stack.json and MES_ORDERS_ADDR is not set;" in done.stderr
    assert "using 127.0.0.1:50151 (orders) from the defaults" in done.stderr
