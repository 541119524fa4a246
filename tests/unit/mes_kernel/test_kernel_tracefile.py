"""The trace file format: a span's line, reading a trace back, the span tree and the trace list."""

from __future__ import annotations

from pathlib import Path

import pytest

from mes_kernel.tracefile import SpanLink, SpanRecord, read_spans, span_tree, summarize_traces, trace_files

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "0af7651916cd43dd8448eb211c80319c"


def record(
    span_id: str, parent: str = "", *, start: int, name: str = "", service: str = "orders", trace: str = TRACE
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace,
        span_id=span_id,
        parent_span_id=parent,
        name=name or span_id,
        kind="internal",
        service=service,
        start_ns=start,
        end_ns=start + 1_000_000,
    )


def test_a_span_survives_its_line() -> None:
    span = SpanRecord(
        trace_id=TRACE,
        span_id="00f067aa0ba902b7",
        parent_span_id="b7ad6b7169203331",
        name="process orders.order.submitted",
        kind="consumer",
        service="production",
        instance="production-worker",
        start_ns=1,
        end_ns=2_500_001,
        status="error",
        status_message="KeyError",
        attributes={"mes.order_id": "o-1", "messaging.batch.message_count": 3},
        links=(SpanLink(OTHER, "00f067aa0ba902b8"),),
    )
    line = span.to_json()
    assert "\n" not in line
    assert SpanRecord.from_json(line) == span
    assert span.duration_ms == 2.5


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "a span line must be a JSON object"),
        ('{"trace_id": "XYZ", "span_id": "00f067aa0ba902b7", "start_ns": 1, "end_ns": 2}', "trace_id must be 32"),
        (
            f'{{"trace_id": "{TRACE}", "span_id": "00f067aa0ba902b7", "start_ns": "1", "end_ns": 2}}',
            "start_ns and end_ns",
        ),
        (
            f'{{"trace_id": "{TRACE}", "span_id": "00f067aa0ba902b7", "kind": "odd", "start_ns": 1, "end_ns": 2}}',
            "unknown span kind",
        ),
    ],
)
def test_bad_lines_are_refused_with_a_reason(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpanRecord.from_json(line)


def test_a_trace_across_files_as_a_tree(tmp_path: Path) -> None:
    facade = [
        record("a000000000000001", start=10, service="facade"),
        record("a000000000000002", "a000000000000001", start=20),
    ]
    orders = [
        record("a000000000000003", "a000000000000002", start=30),
        record("a000000000000004", "a000000000000003", start=60, service="production"),
        record("a000000000000005", "a000000000000003", start=40, service="production"),
        record("a000000000000006", "ffffffffffffffff", start=5, service="inventory"),  # its parent is not exported
        record("b000000000000001", start=1, trace=OTHER),
    ]
    (tmp_path / "facade-1.jsonl").write_text("".join(s.to_json() + "\n" for s in facade))
    # a blank line, a garbled one, and a last line still being written are skipped
    (tmp_path / "orders-2.jsonl").write_text(
        "\n".join(s.to_json() for s in orders) + "\n\n{garbled\n" + orders[0].to_json()[:20]
    )
    (tmp_path / "notes.txt").write_text("not a trace file")
    files = trace_files(tmp_path)
    assert [f.name for f in files] == ["facade-1.jsonl", "orders-2.jsonl"]
    assert trace_files(tmp_path / "missing") == []

    spans = read_spans(files, TRACE.upper())
    assert [s.span_id for s in spans] == [f"a00000000000000{i}" for i in (6, 1, 2, 3, 5, 4)]
    tree = [(depth, s.span_id[-1]) for depth, s in span_tree(spans)]
    assert tree == [(0, "6"), (0, "1"), (1, "2"), (2, "3"), (3, "5"), (3, "4")]
    with pytest.raises(ValueError, match="a trace id must be 32"):
        read_spans(files, "abc")

    summaries = summarize_traces(files)
    assert [s.trace_id for s in summaries] == [TRACE, OTHER]  # the most recent first
    assert summaries[0].spans == 6 and summaries[0].services == ("facade", "inventory", "orders", "production")
    assert summaries[0].root_name == "a000000000000006" and summaries[0].end_ns == 60 + 1_000_000
