"""The capacity model's arithmetic (``perf/capacity.py``) on hand-made inputs: no servers, no timing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from perf.capacity import (
    INPUTS_FILE,
    PROCESSES,
    REQUEST_KINDS,
    Inputs,
    InputsError,
    Workload,
    check_verdict,
    load_inputs,
    main,
    model,
    predict_drain_rate,
    render_table,
)

#: ms of CPU per order of the saga, per process (PostgreSQL as measured: "postgres").
PER_ORDER = {"orders-worker": 4.0, "inventory-worker": 10.0, "production-worker": 6.0, "nats": 2.0, "postgres": 8.0}
#: ms of CPU per request of each kind, per process.
PER_REQUEST = {
    "submit": {"facade": 2.0, "orders": 3.0, "postgres": 1.0},
    "status_cached": {"facade": 0.1},
    "status_uncached": {"facade": 1.0, "orders": 1.0, "postgres": 0.5},
    "list_cached": {"facade": 0.2},
    "list_uncached": {"facade": 2.0, "orders": 0.5, "postgres": 1.0},
    "board_cached": {"facade": 0.05},
    "board_uncached": {"facade": 10.0, "orders": 4.0, "production": 3.0, "postgres": 2.0},
}


def _inputs(**changes: object) -> Inputs:
    values: dict[str, object] = {
        "per_order_ms": PER_ORDER,
        "per_request_ms": PER_REQUEST,
        "messages_per_order": 14.0,
        "stream_bytes_per_order": 7_000.0,
        "deliveries_per_order": 20.0,
        "commits_per_order": 12.0,
        "rows_per_order": 60.0,
        "messages_per_request": {"status_cached": 1.0},
    }
    values.update(changes)
    return Inputs(**values)  # type: ignore[arg-type]


def _quiet(partners: int, orders_per_s: float, **changes: object) -> Workload:
    """Only submissions: no polls, no screens (so each process's load is the saga's and the submit's)."""
    values: dict[str, object] = {
        "status_polls_per_order": 0.0,
        "list_polls_per_partner_s": 0.0,
        "screens": 0,
        "read_miss_share": 0.0,
    }
    values.update(changes)
    return Workload(partners=partners, orders_per_s=orders_per_s, **values)  # type: ignore[arg-type]


def test_capacity_request_rates_follow_partners_orders_and_screens() -> None:
    w = Workload(
        partners=100,
        orders_per_s=50,
        status_polls_per_order=4,
        list_polls_per_partner_s=0.1,
        screens=10,
        board_reads_per_screen_s=0.5,
        read_miss_share=0.25,
    )
    rates = w.request_rates()
    assert rates["submit"] == 50
    assert rates["status_cached"] == pytest.approx(150) and rates["status_uncached"] == pytest.approx(50)
    assert rates["list_cached"] == pytest.approx(7.5) and rates["list_uncached"] == pytest.approx(2.5)
    assert rates["board_cached"] == pytest.approx(5)
    assert set(rates) == set(REQUEST_KINDS)


def test_capacity_cores_are_rate_times_cpu_and_replicas_round_up_at_the_target() -> None:
    cap = model(_inputs(), _quiet(10, 100, target_utilisation=0.6))
    # inventory-worker: 100 orders/s x 10 ms = 1.0 core -> 2 replicas at 60 %
    inv = cap.load("inventory-worker")
    assert inv.cores == pytest.approx(1.0) and inv.replicas == 2 and inv.per_replica == pytest.approx(0.5)
    # orders API: submissions only, 100 x 3 ms = 0.3 cores -> 1 replica
    assert cap.load("orders").cores == pytest.approx(0.3) and cap.load("orders").replicas == 1
    # the PostgreSQL writer takes the saga's and the submissions' backend CPU: 100 x (8 + 1) ms
    assert cap.load("postgres-writer").cores == pytest.approx(0.9)
    assert cap.load("postgres-reader").cores == pytest.approx(0.0)
    # facade: 100 x 2 ms = 0.2 cores, no screens so no board recomputations
    assert cap.load("facade").cores == pytest.approx(0.2) and cap.load("facade").replicas == 1
    # every process of the model is in the answer, and an idle one still gets one replica
    assert [p.process for p in cap.processes] == list(PROCESSES)
    assert cap.load("webhooks").replicas == 1 and cap.load("webhooks").cores == 0


def test_capacity_exactly_at_the_target_needs_no_extra_replica() -> None:
    cap = model(_inputs(), _quiet(1, 60, target_utilisation=0.6))  # inventory-worker: 60 x 10 ms = 0.6
    assert cap.load("inventory-worker").replicas == 1


def test_capacity_first_bottleneck_is_the_costliest_process_per_order_then_moves() -> None:
    cap = model(_inputs(), _quiet(10, 5, target_utilisation=0.6))
    order = cap.bottlenecks()
    # one replica each: 0.6 core / 10 ms = 60 orders/s for inventory-worker, / 6 ms = 100 for production-worker
    assert order[0].process == "inventory-worker" and order[0].saturates_at == pytest.approx(60)
    assert order[1].process == "production-worker" and order[1].saturates_at == pytest.approx(100)
    # the unscalable parts are not in that list; they are ceilings on their machine's cores
    assert all(p.process not in ("nats", "postgres-writer") for p in order)
    assert cap.ceilings["postgres-writer"] == pytest.approx(8 * 0.6 / 0.009)
    assert cap.ceilings["nats"] == pytest.approx(4 * 0.6 / 0.002)


def test_capacity_many_partners_move_the_first_bottleneck_to_the_facade() -> None:
    """Partners' list polls load the facade whatever the orders/s: past some N it saturates first."""
    few = model(_inputs(), _quiet(10, 5, list_polls_per_partner_s=1.0, read_miss_share=0.5))
    many = model(_inputs(), _quiet(1_000, 5, list_polls_per_partner_s=1.0, read_miss_share=0.5))
    assert few.bottlenecks()[0].process == "inventory-worker"
    # 1,000 list polls/s: 500 x 0.2 ms + 500 x 2 ms = 1.1 cores on the facade before any order
    assert many.load("facade").saturates_at == 0.0
    assert many.bottlenecks()[0].process == "facade"
    assert many.load("facade").replicas == 2  # 1.1 + 5 x 2 ms = 1.11 cores at 60 %
    assert many.load("postgres-reader").cores == pytest.approx(0.5)  # 500 uncached list polls x 1 ms


def test_capacity_board_recomputations_grow_with_the_facade_replicas() -> None:
    """Each facade replica recomputes the board itself: r >= base / (u - recompute cost per replica)."""
    w = _quiet(10, 100, screens=10, board_reads_per_screen_s=1.0, board_recomputes_per_s=2.0, target_utilisation=0.6)
    cap = model(_inputs(per_request_ms={**PER_REQUEST, "submit": {"facade": 10.0}}), w)
    # base: 100 x 10 ms + 10 x 0.05 ms = 1.0005 cores; each replica adds 2 x 10 ms = 0.02: r = ceil(1.0005 / 0.58) = 2
    facade = cap.load("facade")
    assert facade.replicas == 2
    assert facade.cores == pytest.approx(1.0005 + 2 * 0.02)
    assert cap.rates["board_uncached"] == pytest.approx(4.0)
    # the recomputations reach the services behind the facade: 2 replicas x 2/s x 3 ms on production
    assert cap.load("production").cores == pytest.approx(2 * 2 * 0.003)
    # without orders nothing changes, so nothing is recomputed
    idle = model(_inputs(), _quiet(10, 0, screens=10, board_reads_per_screen_s=1.0))
    assert idle.rates["board_uncached"] == 0 and idle.load("production").cores == 0


def test_capacity_refuses_recomputations_that_fill_a_replica_by_themselves() -> None:
    w = _quiet(1, 10, screens=1, board_recomputes_per_s=100.0, target_utilisation=0.6)  # 100 x 10 ms = 1 core
    with pytest.raises(ValueError, match="recomputations alone"):
        model(_inputs(), w)


def test_capacity_idle_background_is_paid_once_per_replica() -> None:
    """A replica's idle CPU (relay polls, heartbeats) shrinks what it has left for work."""
    inputs = _inputs(background_cores={"inventory-worker": 0.1, "facade": 0.05, "postgres": 0.02})
    cap = model(inputs, _quiet(10, 100, target_utilisation=0.6))
    inv = cap.load("inventory-worker")
    # 1.0 core of work over replicas that each have 0.6 - 0.1 left: 2 replicas, 1.0 + 2 x 0.1 cores
    assert inv.replicas == 2 and inv.cores == pytest.approx(1.2)
    assert inv.saturates_at == pytest.approx(50.0)  # (0.6 - 0.1) / 10 ms
    assert cap.load("facade").cores == pytest.approx(0.25) and cap.load("facade").replicas == 1
    assert cap.load("postgres-writer").cores == pytest.approx(0.92)  # idle backends count on the writer
    # the drain gets the cores the idle processes leave: (2 - 0.17) / 30 ms
    assert predict_drain_rate(inputs, 2.0) == pytest.approx(1.83 / 0.030)
    with pytest.raises(ValueError, match="leave nothing"):
        predict_drain_rate(inputs, 0.1)
    with pytest.raises(ValueError, match="idle orders replica"):
        model(_inputs(background_cores={"orders": 0.7}), _quiet(1, 1))


def test_capacity_jetstream_and_writer_traffic_scale_with_orders_and_replication() -> None:
    cap = model(_inputs(), _quiet(5, 200, stream_replicas=3))
    assert cap.js_messages_s == pytest.approx(200 * 14)
    assert cap.js_stored_bytes_s == pytest.approx(200 * 7_000 * 3)
    assert cap.js_deliveries_s == pytest.approx(200 * 20)
    assert cap.writer_commits_s == pytest.approx(200 * 12) and cap.writer_rows_s == pytest.approx(200 * 60)
    single = model(_inputs(), _quiet(5, 200, stream_replicas=1))
    assert single.js_stored_bytes_s == pytest.approx(cap.js_stored_bytes_s / 3)
    # reads publish the facade's API-usage events: 1 per cached status poll here
    polled = model(_inputs(), _quiet(5, 200, status_polls_per_order=2))
    assert polled.js_messages_s == pytest.approx(200 * 14 + 400)


def test_capacity_drain_prediction_is_cores_over_cpu_per_order() -> None:
    inputs = _inputs()  # 30 ms over every process of the drain
    assert predict_drain_rate(inputs, 2.0) == pytest.approx(2.0 / 0.030)
    assert predict_drain_rate(inputs, 1.5) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        predict_drain_rate(inputs, 0.0)
    ratio, ok = check_verdict(50.0, 40.0, 0.25)
    assert ratio == pytest.approx(0.8) and ok
    ratio, ok = check_verdict(50.0, 30.0, 0.25)
    assert ratio == pytest.approx(0.6) and not ok


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"partners": 0}, "partners"),
        ({"orders_per_s": -1.0}, "orders per second"),
        ({"target_utilisation": 0.0}, "target utilisation"),
        ({"target_utilisation": 1.5}, "target utilisation"),
        ({"read_miss_share": 2.0}, "miss share"),
        ({"stream_replicas": 2}, "stream replicas"),
    ],
)
def test_capacity_refuses_a_workload_out_of_range(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"partners": 10, "orders_per_s": 5.0, **changes}
    with pytest.raises(ValueError, match=message):
        model(_inputs(), Workload(**values))  # type: ignore[arg-type]


def test_capacity_refuses_inputs_without_a_request_kind_or_with_negative_cpu() -> None:
    with pytest.raises(InputsError, match="board_uncached"):
        _inputs(per_request_ms={k: v for k, v in PER_REQUEST.items() if k != "board_uncached"}).validate()
    with pytest.raises(InputsError, match="CPU must be a number"):
        _inputs(per_order_ms={"orders-worker": -1.0}).validate()


def test_capacity_inputs_file_round_trips_and_bad_files_say_why(tmp_path: Path) -> None:
    good = tmp_path / "inputs.json"
    model_part = {
        "per_order_ms": PER_ORDER,
        "per_request_ms": PER_REQUEST,
        "messages_per_order": 14,
        "stream_bytes_per_order": 7000,
        "deliveries_per_order": 20,
        "commits_per_order": 12,
        "rows_per_order": 60,
    }
    good.write_text(json.dumps({"source": {"date": "2026-12-07"}, "model": model_part}))
    inputs = load_inputs(good)
    assert inputs.per_order_ms == PER_ORDER and inputs.source["date"] == "2026-12-07"
    with pytest.raises(InputsError, match="no such inputs file"):
        load_inputs(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {"per_order_ms": PER_ORDER}}))
    with pytest.raises(InputsError, match="not a capacity inputs file"):
        load_inputs(bad)
    bad.write_text("{")
    with pytest.raises(InputsError, match="not JSON"):
        load_inputs(bad)


def test_capacity_table_names_every_process_the_bottleneck_and_the_traffic() -> None:
    text = render_table(model(_inputs(), _quiet(20, 50)))
    assert text.startswith("### 20 partners at 50 orders/s")
    for process in PROCESSES:
        assert f"| {process} |" in text
    assert "First bottlenecks with one replica of each process, as orders/s grow: inventory-worker at 60" in text
    assert "700 messages/s published, 2,100 replica writes/s" in text
    assert "600 commits/s, 3,000 rows written/s" in text


def test_capacity_committed_inputs_load_and_the_table_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The committed inputs file is a valid input of the model, and ``table`` prints its answer."""
    inputs = load_inputs(INPUTS_FILE)
    assert all(kind in inputs.per_request_ms for kind in REQUEST_KINDS)
    assert sum(inputs.per_order_ms.values()) > 0
    assert main(["table", "--partners", "20", "--orders-per-s", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### 20 partners at 5 orders/s") and "| inventory-worker |" in out
    assert math.isfinite(predict_drain_rate(inputs, 2.0))


def test_capacity_table_command_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--partners", "0", "--orders-per-s", "5"]) == 2
    assert "partners must be >= 1" in capsys.readouterr().err
