"""Files and sockets of the local stack: the partner key file, stack.json, the launch record and
handover markers of `mes run`, the port probe."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from mes_stack.partner_keys import PARTNERS_FILE, read_partner_keys, write_partner_keys
from mes_stack.state import (
    RUN_LOG,
    ProcessInfo,
    StackLaunch,
    StackState,
    read_handover,
    read_launch,
    read_state,
    remove_state,
    replace_process,
    running_owner,
    write_handover,
    write_launch,
    write_state,
)
from mes_stack.tcp import port_in_use


def test_partner_keys_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = write_partner_keys(tmp_path, {"northwind-gems": "k2", "aurora-jewels": "k1"})
    assert path == tmp_path / PARTNERS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_partner_keys(tmp_path) == {"aurora-jewels": "k1", "northwind-gems": "k2"}
    write_partner_keys(tmp_path, {"aurora-jewels": "k3"})
    assert read_partner_keys(tmp_path) == {"aurora-jewels": "k3"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_or_broken_partner_file_reads_as_empty(tmp_path: Path) -> None:
    assert read_partner_keys(tmp_path) == {}
    (tmp_path / PARTNERS_FILE).write_text("{not json")
    assert read_partner_keys(tmp_path) == {}


def test_state_round_trip_and_owner_detection(tmp_path: Path) -> None:
    state = StackState(
        pid=os.getpid(),
        nats_url="nats://127.0.0.1:1",
        addresses={"orders": ("127.0.0.1:2",)},
        processes=[ProcessInfo("orders", 123, "127.0.0.1:2", "/x/orders.log")],
    )
    write_state(tmp_path, state)
    loaded = read_state(tmp_path)
    assert loaded is not None
    assert loaded.addresses == {"orders": ("127.0.0.1:2",)}
    assert loaded.processes[0].pid == 123
    assert running_owner(tmp_path) is None  # our own pid does not count
    write_state(tmp_path, StackState(os.getppid(), "", {}, []))
    assert running_owner(tmp_path) is None  # alive, but not a `mes up`
    lookalike = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "mes", "up"])
    try:
        write_state(tmp_path, StackState(lookalike.pid, "", {}, []))
        assert running_owner(tmp_path) is None  # "mes" must be a program name, not any argument
    finally:
        lookalike.kill()
        lookalike.wait()
    script = tmp_path / "bin" / "mes"
    script.parent.mkdir()
    script.write_text("import time\ntime.sleep(30)\n")
    other = subprocess.Popen([sys.executable, str(script), "up"])
    try:
        write_state(tmp_path, StackState(other.pid, "", {}, []))
        assert running_owner(tmp_path) == other.pid
    finally:
        other.kill()
        other.wait()
    write_state(tmp_path, StackState(2**22 + 12345, "", {}, []))  # above pid_max: no such process
    assert running_owner(tmp_path) is None
    remove_state(tmp_path)
    remove_state(tmp_path)
    assert read_state(tmp_path) is None


def test_the_launch_record_and_handovers_are_private_and_go_with_the_stack(tmp_path: Path) -> None:
    write_state(tmp_path, StackState(os.getpid(), "nats://a:1", {}, [ProcessInfo("orders", 7, "a:2", "/x.log")]))
    write_launch(tmp_path, StackLaunch(("--nats-cluster", "3"), {"MES_AUTH_TOKENS": "secret=service:x"}))
    assert stat.S_IMODE((tmp_path / "stack-launch.json").stat().st_mode) == 0o600
    launch = read_launch(tmp_path)
    assert launch is not None and tuple(launch.argv) == ("--nats-cluster", "3")
    assert launch.env == {"MES_AUTH_TOKENS": "secret=service:x"}

    assert read_handover(tmp_path, "orders") is None
    write_handover(tmp_path, "orders", 4242)
    assert read_handover(tmp_path, "orders") == 4242
    assert stat.S_IMODE((tmp_path / "handover" / "orders").stat().st_mode) == 0o600
    replace_process(tmp_path, ProcessInfo("orders", 4242, "a:2", RUN_LOG))
    state = read_state(tmp_path)
    assert state is not None and state.processes == [ProcessInfo("orders", 4242, "a:2", RUN_LOG)]
    assert state.nats_url == "nats://a:1"

    remove_state(tmp_path)
    assert read_state(tmp_path) is None and read_launch(tmp_path) is None
    assert read_handover(tmp_path, "orders") is None and not (tmp_path / "handover").exists()


def test_port_probe_sees_a_listener_and_a_free_port() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)
