"""The summary printed by `mes up`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from mes_stack.demo_data import DEMO_OPERATOR_PASSWORD, DEMO_SUPERVISOR_PASSWORD
from mes_stack.options import StackOptions
from mes_stack.plan import StackPlan, build_plan
from mes_stack.state import ProcessInfo
from mes_stack.summary import READY_LINE, example_commands, render_summary


def _plan(env: dict[str, str]) -> StackPlan:
    options = StackOptions.resolve(env, data_dir="/data")
    return build_plan(options, env, python="python", nats_binary="nats-server", facade_available=False)


def test_summary_lists_processes_databases_keys_and_ends_with_ready_line() -> None:
    plan = _plan({})
    infos = [ProcessInfo(s.name, 1000 + i, s.address, str(s.log_path)) for i, s in enumerate(plan.processes)]
    text = render_summary(
        plan, infos, data_dir=Path("/data"), partner_keys={"aurora-jewels": "mk_aaa", "northwind-gems": "mk_bbb"}
    )
    lines = text.splitlines()
    table = lines[lines.index("") + 3 : lines.index("Databases:") - 1]
    rows = {line.split()[0]: line.split()[1:] for line in table}
    assert rows["NAME"] == ["PID", "ADDRESS", "LOG"]
    assert rows["nats"] == ["1000", "nats://127.0.0.1:14322", "/data/logs/nats.log"]
    assert rows["orders"] == ["1001", "127.0.0.1:50151", "/data/logs/orders.log"]
    assert rows["orders-worker"] == ["1006", "127.0.0.1:51151", "/data/logs/orders-worker.log"]
    assert rows["webhooks-worker"] == ["1009", "127.0.0.1:51154", "/data/logs/webhooks-worker.log"]
    assert rows["analytics"] == ["1005", "127.0.0.1:50155", "/data/logs/analytics.log"]
    assert rows["analytics-worker"] == ["1010", "127.0.0.1:51155", "/data/logs/analytics-worker.log"]
    assert any(line.strip().startswith("(*-worker: consumers, outbox relay") for line in lines)
    assert "sqlite:////data/inventory.db" in text
    assert "  aurora-jewels   mk_aaa" in lines
    assert "/data/demo-partners.json" in text
    assert "mesctl inventory balances" in text
    assert text.rstrip().endswith(READY_LINE)


def test_summary_gives_the_demo_sign_in_passwords_with_the_demo_data() -> None:
    plan = _plan({})
    text = render_summary(plan, [], data_dir=Path("/data"), partner_keys={"aurora-jewels": "mk_aaa"})
    lines = text.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("Demo sign-in on the floor"))
    assert "development only" in lines[heading]
    operators, supervisors = lines[heading + 1].split(), lines[heading + 2].split()
    assert operators[0] == "OP-01," and operators[-1] == DEMO_OPERATOR_PASSWORD
    assert supervisors == ["SUP-01", DEMO_SUPERVISOR_PASSWORD]
    assert "Demo sign-in" not in render_summary(plan, [], data_dir=Path("/data"), partner_keys={})


def test_summary_hides_database_passwords() -> None:
    plan = _plan({"DATABASE_URL": "postgresql://postgres@h:5432/mes", "MES_STACK_DB_PASSWORD": "hunter2"})
    text = render_summary(plan, [], data_dir=Path("/data"), partner_keys={})
    assert "hunter2" not in text
    assert "postgresql://mes_orders:***@h:5432/mes" in text
    assert "API keys" not in text


def test_examples_export_addresses_only_when_not_default() -> None:
    assert not any(line.startswith("export") for line in example_commands(_plan({}), {}))
    moved = example_commands(_plan({"MES_INVENTORY_GRPC_PORT": "41002"}), {"northwind-gems": "k"})
    assert moved[0] == "export MES_INVENTORY_ADDR=127.0.0.1:41002"
    assert sum(line.startswith("export") for line in moved) == 1
    assert any("--parent northwind-gems" in line for line in moved)
    assert any(line.startswith("mesctl --api-key k orders list") for line in moved)


def test_example_order_is_due_two_weeks_ahead() -> None:
    lines = example_commands(_plan({}), {}, today=date(2026, 12, 25))
    submit = next(line for line in lines if "orders submit" in line)
    assert "--due 2027-01-08" in submit and "--line RNG-SOL-001:AU750Y:2:52" in submit


def test_facade_examples_only_when_the_facade_runs() -> None:
    options = StackOptions.resolve({}, data_dir="/data")
    with_facade = build_plan(options, {}, python="python", nats_binary="nats-server", facade_available=True)
    lines = example_commands(with_facade, {"aurora-jewels": "mk_a"})
    curls = [line for line in lines if line.startswith("curl")]
    assert len(curls) == 2
    assert "http://127.0.0.1:8180/graphql -H 'authorization: Bearer mes-dev-operator'" in curls[0]
    assert "-H 'x-api-key: mk_a'" in curls[1]
    assert not any(line.startswith("curl") for line in example_commands(_plan({}), {}))


def test_summary_prints_the_operators_web_app() -> None:
    assert "web app" not in render_summary(_plan({}), [], data_dir=Path("/data"), partner_keys={})  # no facade
    options = StackOptions.resolve({}, data_dir="/data")
    plan = build_plan(options, {}, python="python", nats_binary="nats-server", facade_available=True)
    text = render_summary(plan, [], data_dir=Path("/data"), partner_keys={})
    facade = next(spec for spec in plan.processes if spec.role == "facade")
    site = facade.address.removesuffix("graphql")
    assert site.startswith("http://") and site.endswith("/")
    assert f"Operators' web app: {site}  (sign in; GraphiQL at {site}graphiql)" in text.splitlines()
