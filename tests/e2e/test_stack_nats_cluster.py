"""`mes up --nats-cluster 3` end to end: three nats-server nodes on loopback, streams at 3 replicas,
every process connected, the saga running over the cluster, one node restarted with `mes run`."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import nats

from mes_contracts.events import ALL_STREAMS
from tests.e2e._stack import RunningStack, eventually, stack_env, wait_gone
from tests.e2e.faults._cluster import cluster_env
from tests.e2e.test_stack import HAVE_CLI, HAVE_FACADE, _check_partner_keys, _partner_order_reaches_production
from tests.e2e.test_stack_run_one import start_mes_run

NODES = ("nats-1", "nats-2", "nats-3")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _monitor(port: int, path: str) -> Any:
    with _NO_PROXY.open(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def _all_replicated(replicas: dict[str, tuple[int, str, int]]) -> bool:
    return set(replicas) == {s.name for s in ALL_STREAMS} and all(
        configured == 3 and leader in NODES and peers == 2 for configured, leader, peers in replicas.values()
    )


async def _stream_replicas(servers: list[str]) -> dict[str, tuple[int, str, int]]:
    """Per stream: (configured replicas, leader, peers besides the leader), asked of the cluster."""
    nc = await nats.connect(servers=servers, connect_timeout=5, max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        found: dict[str, tuple[int, str, int]] = {}
        for stream in ALL_STREAMS:
            info = await js.stream_info(stream.name)
            assert info.cluster is not None, stream.name
            found[stream.name] = (
                info.config.num_replicas or 1,
                info.cluster.leader or "",
                len(info.cluster.replicas or []),
            )
        return found
    finally:
        await nc.close()


def test_mes_up_runs_a_three_node_cluster_with_replicated_streams(run_stack: Callable[..., RunningStack]) -> None:
    base = stack_env()
    env = {**base, **cluster_env(3, beside=base), "MES_STACK_DEMO_HISTORY_DAYS": "2"}
    stack = run_stack("--nats-cluster", "3", env=env)
    state = stack.state()
    nodes = [p for p in state.processes if p.name.startswith("nats")]
    assert [p.name for p in nodes] == list(NODES)
    first = int(env["MES_STACK_NATS_PORT"])
    servers = [f"nats://127.0.0.1:{first + i}" for i in range(3)]
    assert [p.address for p in nodes] == servers
    assert state.nats_url == ",".join(servers)
    assert f"the services connect to {state.nats_url}" in stack.output
    for name in NODES:
        assert (stack.data_dir / "nats-cluster" / name / "jetstream").is_dir()

    # Every node of one cluster, one meta leader.
    monitor = int(env["MES_STACK_NATS_MONITOR_PORT"])
    eventually(
        "one meta leader of 3",
        lambda: [_monitor(monitor + i, "/jsz")["meta_cluster"] for i in range(3)],
        lambda metas: {m["cluster_size"] for m in metas} == {3} and len({m.get("leader") for m in metas}) == 1,
    )

    # Every stream (the services' and the facade's) at 3 replicas, each with a leader and two peers.
    eventually("every stream at 3 replicas", lambda: asyncio.run(_stream_replicas(servers)), _all_replicated)

    # The service processes' connections are spread over the nodes; the facade is connected too.
    expected = ["orders", "inventory", "production", "webhooks", "analytics"] + (["mes-facade"] if HAVE_FACADE else [])

    def names() -> set[str]:
        connections = [c for i in range(3) for c in _monitor(monitor + i, "/connz?limit=1024")["connections"]]
        return {str(c.get("name", "")) for c in connections}

    eventually(
        "every process connected",
        names,
        lambda found: all(any(name.startswith(f"{who}-") for name in found) for who in expected),
    )

    keys = _check_partner_keys(stack)
    if HAVE_CLI:
        _partner_order_reaches_production(stack, keys["aurora-jewels"])

    # One node restarted on its own: `mes run nats:2` takes it over; it rejoins, the stack goes on.
    node = start_mes_run(env, "nats:2", "--data-dir", str(stack.data_dir))
    try:
        node.wait_for(f"mes run: nats-2 is ready at {servers[1]}")
        assert "--store_dir " + str(stack.data_dir / "nats-cluster" / "nats-2") in node.output
        eventually(
            "nats-2 back in the cluster",
            lambda: _monitor(monitor + 1, "/jsz")["meta_cluster"],
            lambda meta: meta["cluster_size"] == 3 and meta.get("leader") in NODES,
        )
        assert stack.proc.poll() is None and "mes: nats-2 (pid" in stack.output
        eventually("every stream at 3 replicas again", lambda: asyncio.run(_stream_replicas(servers)), _all_replicated)

        pids = [p.pid for p in stack.state().processes if p.name != "nats-2"]
        assert stack.interrupt() == 0, stack.output
        assert node.exit_code() == 0, node.output
    finally:
        node.stop()
    assert wait_gone(pids) == [], f"children still running after mes exited\n{stack.output}"
