"""``mesctl traces list|show``: the trace files of the local stack, read offline, as a span tree."""

from __future__ import annotations

import io
import json
from pathlib import Path

from clients.cli.__main__ import run
from clients.cli.traces import traces_dir
from mes_kernel.tracefile import SpanLink, SpanRecord

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def write_trace(folder: Path) -> None:
    start = 1_796_637_845_000_000_000
    spans = {
        "facade-1.jsonl": [
            SpanRecord(
                TRACE,
                "a000000000000001",
                "",
                "POST /graphql",
                "server",
                "facade",
                start,
                start + 9_000_000,
                attributes={"http.response.status_code": 200},
            ),
            SpanRecord(
                TRACE,
                "a000000000000002",
                "a000000000000001",
                "mes.orders.v1.OrdersService/SubmitOrder",
                "client",
                "facade",
                start + 1_000_000,
                start + 8_000_000,
            ),
        ],
        "production-worker-2.jsonl": [
            SpanRecord(
                TRACE,
                "a000000000000004",
                "a000000000000003",
                "process orders.order.submitted",
                "consumer",
                "production",
                start + 20_000_000,
                start + 25_000_000,
                instance="production-worker",
                attributes={"mes.order_id": "o-1"},
                links=(SpanLink(TRACE, "a000000000000005"),),
            ),
        ],
        "orders-3.jsonl": [
            SpanRecord(
                TRACE,
                "a000000000000003",
                "a000000000000002",
                "mes.orders.v1.OrdersService/SubmitOrder",
                "server",
                "orders",
                start + 2_000_000,
                start + 7_000_000,
                status="error",
                status_message="INTERNAL",
            ),
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in spans.items():
        (folder / name).write_text("".join(r.to_json() + "\n" for r in records))


async def mesctl(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def test_show_prints_the_span_tree_across_processes(tmp_path: Path) -> None:
    write_trace(tmp_path / "traces")
    code, out, _ = await mesctl("traces", "show", TRACE, "--dir", str(tmp_path / "traces"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"trace {TRACE}: 4 spans, facade, orders, production"
    body = [line.split(maxsplit=4) for line in lines[2:]]
    assert [(row[2], row[3]) for row in body] == [
        ("facade", "server"),
        ("facade", "client"),
        ("orders", "server"),
        ("production-worker", "consumer"),
    ]
    assert lines[2].endswith("POST /graphql  [http.response.status_code=200]")
    assert "    mes.orders.v1.OrdersService/SubmitOrder  [ERROR INTERNAL]" in lines[4]
    assert lines[5].endswith("      process orders.order.submitted  [mes.order_id=o-1 links=a000000000000005]")
    assert body[2][0] == "2.0" and body[2][1] == "5.0"  # +ms from the trace's start, duration in ms

    code, out, _ = await mesctl("traces", "show", TRACE, "--dir", str(tmp_path / "traces"), "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert [(s["depth"], s["span_id"][-1]) for s in data] == [(0, "1"), (1, "2"), (2, "3"), (3, "4")]


async def test_list_shows_the_recent_traces(tmp_path: Path) -> None:
    write_trace(tmp_path / "traces")
    code, out, _ = await mesctl("traces", "list", "--dir", str(tmp_path / "traces"))
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:4] == ["STARTED", "TRACE", "SPANS", "MS"]
    assert TRACE in row and "POST /graphql / facade, orders, production" in row and " 4 " in row


async def test_clear_errors(tmp_path: Path) -> None:
    code, _, err = await mesctl("traces", "show", TRACE, "--dir", str(tmp_path / "none"))
    assert code == 2 and f"no trace files in {tmp_path / 'none'}" in err
    write_trace(tmp_path)
    code, _, err = await mesctl("traces", "show", "nope", "--dir", str(tmp_path))
    assert code == 2 and "a trace id must be 32 lower-case hex digits" in err
    code, _, err = await mesctl("traces", "show", "0" * 31 + "1", "--dir", str(tmp_path))
    assert code == 2 and f"no span of trace {'0' * 31}1" in err
    code, _, err = await mesctl("traces", "list", "--limit", "0", "--dir", str(tmp_path))
    assert code == 2 and "--limit must be at least 1" in err


def test_the_folder_comes_from_the_option_then_the_environment() -> None:
    assert traces_dir("/x", {"MES_TRACES_DIR": "/y"}) == Path("/x")
    assert traces_dir(None, {"MES_TRACES_DIR": "/y", "MES_DATA_DIR": "/d"}) == Path("/y")
    assert traces_dir(None, {"MES_DATA_DIR": "/d"}) == Path("/d/traces")
    assert traces_dir(None, {}) == Path("var/traces")
