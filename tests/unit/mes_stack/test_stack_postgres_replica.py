"""`mes up --postgres-replica`: the options, the two PostgreSQL processes of the plan, their command
lines, and the writer and reader URLs every service gets (pure, no processes); and the restart flag
of a NATS cluster's nodes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from mes_stack.options import KNOBS, SERVICES, OptionsError, StackOptions
from mes_stack.plan import PgProbe, StackPlan, build_plan
from mes_stack.postgres import PRIMARY_SETTINGS, REPLICA_SETTINGS, PostgresServer
from mes_stack.state import ProcessInfo
from mes_stack.summary import render_summary
from tests.unit.mes_stack._plans import plan

BIN = Path("/pg/bin")


def _servers(options: StackOptions) -> tuple[PostgresServer, PostgresServer]:
    """What ``mes_stack.up.postgres_servers`` builds, with a made-up bindir and no OS user."""
    root = options.data_dir / "postgres"
    primary = PostgresServer(BIN, root / "primary", options.postgres_port, settings=dict(PRIMARY_SETTINGS))
    replica = PostgresServer(
        BIN, root / "replica", options.postgres_replica_port, settings=dict(REPLICA_SETTINGS), primary=primary
    )
    return primary, replica


def _plan(env: dict[str, str] | None = None, **kwargs: object) -> StackPlan:
    env = dict(env or {})
    options = StackOptions.resolve(env, data_dir="/data", postgres_replica=True, **kwargs)  # type: ignore[arg-type]
    return build_plan(
        options,
        env,
        python="/venv/bin/python",
        nats_binary="/venv/bin/nats-server",
        facade_available=False,
        postgres=_servers(options),
    )


def _setting(argv: tuple[str, ...], key: str) -> str:
    values = [
        argv[i + 1].partition("=")[2] for i, arg in enumerate(argv) if arg == "-c" and argv[i + 1].startswith(key + "=")
    ]
    assert len(values) == 1, (key, argv)
    return values[0]


def test_the_flag_and_its_variable_point_the_stack_at_its_own_primary() -> None:
    by_flag = StackOptions.resolve({}, data_dir="/data", postgres_replica=True)
    by_env = StackOptions.resolve({"MES_STACK_POSTGRES_REPLICA": "1"}, data_dir="/data")
    for options in (by_flag, by_env):
        assert options.postgres_replica and options.postgres
        assert options.database_url == "postgresql://postgres@127.0.0.1:15432/postgres"
        assert options.database_read_url == "postgresql://postgres@127.0.0.1:15433/postgres"
    moved = StackOptions.resolve({"MES_STACK_POSTGRES_PORT": "25000"}, data_dir="/data", postgres_replica=True)
    assert (moved.postgres_port, moved.postgres_replica_port) == (25000, 25001)
    off = StackOptions.resolve({"MES_STACK_POSTGRES_REPLICA": "0"}, data_dir="/data")
    assert not off.postgres_replica and off.database_url is None and off.database_read_url is None
    assert {"MES_STACK_POSTGRES_REPLICA", "MES_STACK_POSTGRES_PORT"} <= {k for k, _, _ in KNOBS}


def test_the_flag_with_an_external_database_is_refused() -> None:
    with pytest.raises(OptionsError, match="give one of them"):
        StackOptions.resolve({"DATABASE_URL": "postgresql://db/x"}, data_dir="/data", postgres_replica=True)
    with pytest.raises(OptionsError, match="room for the replica"):
        StackOptions.resolve({"MES_STACK_POSTGRES_PORT": "65535"}, data_dir="/data", postgres_replica=True)


def test_replicas_of_the_services_run_on_it() -> None:
    options = StackOptions.resolve({}, data_dir="/data", postgres_replica=True, replicas=2)
    assert options.replicas == 2


def test_primary_and_replica_start_first_and_stop_last_by_sigint() -> None:
    p = _plan()
    primary, replica = p.processes[:2]
    assert [primary.name, replica.name] == ["postgres", "postgres-replica"]
    assert {primary.role, replica.role} == {"postgres"}
    assert p.stop_groups()[-1] == [primary, replica]
    assert primary.stop_signal == replica.stop_signal == signal.SIGINT
    assert (primary.port, replica.port) == (15432, 15433)
    assert primary.probe == PgProbe("postgresql://postgres@127.0.0.1:15432/postgres")
    assert replica.address == "postgresql://postgres@127.0.0.1:15433/postgres"
    assert [c.env_var for c in primary.claims + replica.claims] == ["MES_STACK_POSTGRES_PORT"] * 2
    assert primary.log_path == Path("/data/logs/postgres.log")
    assert not primary.restart and not replica.restart


def test_command_lines_run_the_postmaster_on_loopback_with_streaming_settings() -> None:
    primary, replica = _plan().processes[:2]
    assert primary.argv[:5] == ("/pg/bin/postgres", "-D", "/data/postgres/primary", "-p", "15432")
    assert _setting(primary.argv, "listen_addresses") == "127.0.0.1"
    assert _setting(primary.argv, "wal_level") == "replica"
    assert _setting(primary.argv, "synchronous_commit") == "local"
    assert replica.argv[:5] == ("/pg/bin/postgres", "-D", "/data/postgres/replica", "-p", "15433")
    assert _setting(replica.argv, "hot_standby") == "on"
    # the replica follows the primary's port even when its data was copied while it had another
    assert _setting(replica.argv, "primary_conninfo") == "host=127.0.0.1 port=15432 user=postgres"


def test_setup_commands_initdb_the_primary_and_basebackup_the_replica() -> None:
    primary, replica = _servers(StackOptions.resolve({}, data_dir="/data", postgres_replica=True))
    init = primary.setup_command()
    assert init[0] == "/pg/bin/initdb" and "--auth=trust" in init and "--no-sync" not in init
    backup = replica.setup_command()
    assert backup[0] == "/pg/bin/pg_basebackup" and {"-R", "stream"} <= set(backup)
    assert backup[backup.index("-p") + 1] == "15432" and backup[backup.index("-D") + 1] == "/data/postgres/replica"


def test_each_service_writes_on_the_primary_and_reads_on_the_replica() -> None:
    p = _plan()
    for svc in SERVICES:
        writer = f"postgresql://mes_{svc}@127.0.0.1:15432/postgres"
        reader = f"postgresql://mes_{svc}@127.0.0.1:15433/postgres"
        assert p.database_urls[svc] == writer and p.database_read_urls[svc] == reader
        for spec in (s for s in p.processes if s.service == svc):
            prefix = f"MES_{svc.upper()}_"
            assert spec.env[prefix + "DATABASE_URL"] == writer
            assert spec.env[prefix + "DATABASE_READ_URL"] == reader
            assert spec.env[prefix + "MIGRATE_ON_START"] == "0"  # mes up migrates the primary once


def test_an_explicit_reader_or_writer_of_a_service_wins() -> None:
    p = _plan(
        {
            "MES_ORDERS_DATABASE_READ_URL": "postgresql://elsewhere/r",
            "MES_INVENTORY_DATABASE_URL": "postgresql://own/inv",
        }
    )
    assert p.database_read_urls["orders"] == "postgresql://elsewhere/r"
    assert p.database_urls["inventory"] == "postgresql://own/inv"
    assert "inventory" not in p.database_read_urls  # its reads stay where its own writer is


def test_role_prefix_and_password_apply_to_both_urls() -> None:
    p = _plan({"MES_STACK_DB_PASSWORD": "s3cret"}, role_prefix="shop2")
    assert p.database_urls["orders"] == "postgresql://shop2_orders:s3cret@127.0.0.1:15432/postgres"
    assert p.database_read_urls["orders"] == "postgresql://shop2_orders:s3cret@127.0.0.1:15433/postgres"


def test_summary_prints_writer_and_replica_urls() -> None:
    p = _plan()
    infos = [ProcessInfo(s.name, 100 + i, s.address, str(s.log_path)) for i, s in enumerate(p.processes)]
    text = render_summary(p, infos, data_dir=Path("/data"), partner_keys={})
    assert "reads on its streaming replica" in text
    assert "postgresql://mes_orders@127.0.0.1:15432/postgres" in text
    assert "postgresql://mes_orders@127.0.0.1:15433/postgres  (replica)" in text
    assert "postgres-replica" in text


def test_without_the_flag_the_readers_are_the_writers() -> None:
    p = plan({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/mes"})
    assert not p.database_read_urls and all(s.role != "postgres" for s in p.processes)
    orders = next(s for s in p.processes if s.name == "orders")
    assert orders.env["MES_ORDERS_DATABASE_READ_URL"] == orders.env["MES_ORDERS_DATABASE_URL"]


def test_cluster_nodes_are_restarted_the_one_nats_server_is_not() -> None:
    cluster = plan(nats_cluster=3)
    assert [s.restart for s in cluster.processes if s.role == "nats"] == [True, True, True]
    assert not any(s.restart for s in cluster.processes if s.role != "nats")
    single = plan()
    assert [s.restart for s in single.processes if s.role == "nats"] == [False]
