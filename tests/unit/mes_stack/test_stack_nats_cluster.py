"""`mes up --nats-cluster 3`: three nats-server nodes in the plan, their routes, ports and stores,
the NATS URL list and the stream replicas every process gets (pure, no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mes_stack.options import KNOBS, OptionsError, StackOptions
from mes_stack.plan import HttpProbe, PlanError
from mes_stack.state import ProcessInfo
from mes_stack.summary import render_summary
from tests.unit.mes_stack._plans import plan

NODES = ["nats-1", "nats-2", "nats-3"]
URLS = "nats://127.0.0.1:14322,nats://127.0.0.1:14323,nats://127.0.0.1:14324"


def _arg(argv: tuple[str, ...], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_three_nodes_start_first_each_on_its_own_ports_store_and_server_name() -> None:
    p = plan(nats_cluster=3)
    nodes = p.processes[:3]
    assert [s.name for s in nodes] == NODES and {s.role for s in nodes} == {"nats"}
    assert all(s.role != "nats" for s in p.processes[3:])
    for i, node in enumerate(nodes):
        argv = node.argv
        assert argv[0] == "/venv/bin/nats-server" and "--jetstream" in argv
        assert _arg(argv, "--port") == str(14322 + i) and node.port == 14322 + i
        assert _arg(argv, "--http_port") == str(18322 + i)
        assert _arg(argv, "--cluster") == f"nats://127.0.0.1:{16322 + i}"
        assert _arg(argv, "--cluster_name") == "mes-local"
        assert _arg(argv, "--server_name") == NODES[i]
        assert _arg(argv, "--store_dir") == f"/data/nats-cluster/{NODES[i]}"
        others = {f"nats://127.0.0.1:{16322 + j}" for j in range(3) if j != i}
        assert set(_arg(argv, "--routes").split(",")) == others
        # ready only with a JetStream meta leader, which needs a majority of the nodes
        assert node.probe == HttpProbe(18322 + i, "/healthz")
        assert str(node.log_path) == f"/data/logs/{NODES[i]}.log"
        assert [c.env_var for c in node.claims] == [
            "MES_STACK_NATS_PORT",
            "MES_STACK_NATS_MONITOR_PORT",
            "MES_STACK_NATS_CLUSTER_PORT",
        ]
    assert [[s.name for s in group] for group in p.stop_groups()][-1] == NODES  # stopped last, together


def test_every_service_process_gets_the_url_of_every_node_and_three_stream_replicas() -> None:
    p = plan(nats_cluster=3)
    assert p.nats_url == URLS and p.nats_servers == tuple(URLS.split(","))
    assert p.nats_cluster and p.stream_replicas == 3
    services = [s for s in p.processes if s.service]
    assert services and all(s.env["NATS_URL"] == URLS for s in services)
    assert all(s.env["MES_STREAM_REPLICAS"] == "3" for s in services)


def test_the_facade_gets_every_node() -> None:
    facade = plan(nats_cluster=3, facade=True).processes[-1]
    assert facade.name == "facade"
    assert facade.env["NATS_URL"].split(",") == [
        "nats://127.0.0.1:14322",
        "nats://127.0.0.1:14323",
        "nats://127.0.0.1:14324",
    ]


def test_a_single_server_keeps_its_name_store_and_one_replica() -> None:
    p = plan()
    assert [s.name for s in p.processes if s.role == "nats"] == ["nats"]
    assert not p.nats_cluster and p.stream_replicas == 1 and p.nats_url == "nats://127.0.0.1:14322"
    assert all("MES_STREAM_REPLICAS" not in s.env for s in p.processes)


def test_an_explicit_stream_replicas_setting_wins() -> None:
    p = plan({"MES_ORDERS_STREAM_REPLICAS": "5"}, nats_cluster=5)
    assert [s.name for s in p.processes if s.role == "nats"] == [*NODES, "nats-4", "nats-5"]
    orders = next(s for s in p.processes if s.service == "orders")
    assert "MES_STREAM_REPLICAS" not in orders.env and orders.env["MES_ORDERS_STREAM_REPLICAS"] == "5"


def test_the_knob_and_the_argument_choose_the_size() -> None:
    assert StackOptions.resolve({"MES_STACK_NATS_CLUSTER": "3"}).nats_cluster == 3
    assert StackOptions.resolve({"MES_STACK_NATS_CLUSTER": "3"}, nats_cluster=1).nats_cluster == 1
    assert StackOptions.resolve({}).nats_cluster == 1


@pytest.mark.parametrize("size", [0, 2, 4, 6])
def test_a_cluster_that_survives_no_loss_is_refused(size: int) -> None:
    with pytest.raises(OptionsError, match=r"--nats-cluster \(MES_STACK_NATS_CLUSTER\) must be 1, 3 or 5"):
        StackOptions.resolve({}, nats_cluster=size)


def test_a_cluster_and_an_external_nats_exclude_each_other() -> None:
    with pytest.raises(OptionsError, match="give one of them"):
        StackOptions.resolve({"NATS_URL": "nats://10.0.0.5:4222"}, nats_cluster=3)


def test_route_ports_move_with_their_variable_and_collisions_name_it() -> None:
    p = plan({"MES_STACK_NATS_CLUSTER_PORT": "26000"}, nats_cluster=3)
    assert [_arg(s.argv, "--cluster") for s in p.processes[:3]] == [f"nats://127.0.0.1:{26000 + i}" for i in range(3)]
    collision = (
        r"port 18323 is planned twice: nats-1 route port \(MES_STACK_NATS_CLUSTER_PORT\)"
        r" and nats-2 monitor port \(node 2: first \+ 1\) \(MES_STACK_NATS_MONITOR_PORT\)"
    )
    with pytest.raises(PlanError, match=collision):
        plan({"MES_STACK_NATS_CLUSTER_PORT": "18323"}, nats_cluster=3)


def test_the_summary_names_the_cluster_and_the_url_list(tmp_path: Path) -> None:
    p = plan(nats_cluster=3)
    infos = [ProcessInfo(s.name, 1000 + i, s.address, str(s.log_path)) for i, s in enumerate(p.processes)]
    text = render_summary(p, infos, data_dir=tmp_path, partner_keys={})
    assert f"a JetStream cluster of 3 nodes, streams at 3 replicas; the services connect to {URLS}" in text
    for i, name in enumerate(NODES):
        assert f"nats://127.0.0.1:{14322 + i}" in next(line for line in text.splitlines() if f"  {name} " in line)


def test_the_knob_table_lists_the_cluster_and_prefix_variables() -> None:
    names = {name for name, _, _ in KNOBS}
    assert {"MES_STACK_NATS_CLUSTER", "MES_STACK_NATS_CLUSTER_PORT", "MES_STACK_ROLE_PREFIX"} <= names
