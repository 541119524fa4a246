"""OpenTelemetry spans over the W3C trace context: ids only without a tracer, recorded spans with one
(parents, sampling flags, links, status, attributes), the producer's detached spans, the ``OTEL_*``
settings and the ``file`` exporter's lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from mes_kernel.tracefile import SpanRecord, read_spans, span_tree
from mes_platform.telemetry.trace_export import (
    DEFAULT_SAMPLER,
    JsonLinesSpanExporter,
    TracingSettings,
    configure_tracing,
    make_sampler,
    span_record,
)
from mes_platform.telemetry.tracing import (
    TraceContext,
    annotate,
    current_trace,
    install_tracer,
    parse_traceparent,
    span,
    start_detached_span,
    tracing_enabled,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = TraceContext(TRACE, "00f067aa0ba902b7", "01")
UNSAMPLED = TraceContext(TRACE, "00f067aa0ba902b7", "00")


def _provider(sampler: object = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider(sampler=sampler or ParentBased(ALWAYS_ON))  # type: ignore[arg-type]
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def recorded() -> Iterator[InMemorySpanExporter]:
    provider, exporter = _provider()
    install_tracer(provider.get_tracer("test"))
    try:
        yield exporter
    finally:
        install_tracer(None)


def test_without_a_tracer_spans_are_ids_only() -> None:
    assert not tracing_enabled()
    with span("work", parent=CALLER) as ctx:
        assert current_trace() == ctx
        assert (ctx.trace_id, ctx.parent_span_id, ctx.flags) == (TRACE, CALLER.span_id, "01")
        assert otel_trace.get_current_span().get_span_context().is_valid is False  # nothing of OpenTelemetry
        with span("inner") as inner:
            assert (inner.trace_id, inner.parent_span_id) == (TRACE, ctx.span_id)
        annotate({"ignored": 1})
    with span("root", parent=None) as root:
        assert root.trace_id != TRACE and root.parent_span_id == ""
    with span("unsampled", parent=UNSAMPLED) as kept:
        assert kept.flags == "00"  # the caller's decision travels on
    assert current_trace() is None
    assert start_detached_span("publish", kind=SpanKind.PRODUCER, parent=CALLER) is None


def test_a_recorded_span_continues_its_parent_and_becomes_current(recorded: InMemorySpanExporter) -> None:
    with span("server", kind=SpanKind.SERVER, parent=CALLER, attributes={"rpc.method": "M"}) as server:
        assert current_trace() == server
        assert structlog.contextvars.get_contextvars()["span_id"] == server.span_id
        current = otel_trace.get_current_span().get_span_context()
        assert (f"{current.trace_id:032x}", f"{current.span_id:016x}") == (server.trace_id, server.span_id)
        with span("internal") as inner:
            annotate({"mes.rows": 3}, ok=True)
    finished = {s.name: s for s in recorded.get_finished_spans()}
    assert set(finished) == {"server", "internal"}
    got = finished["server"]
    assert got.kind == SpanKind.SERVER and got.attributes == {"rpc.method": "M"}
    assert got.parent is not None and f"{got.parent.span_id:016x}" == CALLER.span_id and got.parent.is_remote
    assert f"{got.context.trace_id:032x}" == TRACE and f"{got.context.span_id:016x}" == server.span_id
    assert server.flags == "01" and server.parent_span_id == CALLER.span_id
    child = finished["internal"]
    assert f"{child.parent.span_id:016x}" == server.span_id  # type: ignore[union-attr]
    assert child.attributes == {"mes.rows": 3} and child.status.status_code == StatusCode.OK
    assert inner.trace_id == TRACE


def test_links_errors_and_new_traces(recorded: InMemorySpanExporter) -> None:
    other = TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "01")
    with span("batch", kind=SpanKind.CONSUMER, parent=None, links=[CALLER, other]) as batch:
        assert batch.trace_id != TRACE
    with pytest.raises(KeyError), span("failing", parent=CALLER, links=[batch]):
        raise KeyError("secret-value")
    finished = {s.name: s for s in recorded.get_finished_spans()}
    linked = [(f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in finished["batch"].links]
    assert linked == [(TRACE, CALLER.span_id), (other.trace_id, other.span_id)]
    assert finished["batch"].parent is None
    failed = finished["failing"]
    assert failed.status.status_code == StatusCode.ERROR and failed.status.description == "KeyError"
    assert "secret-value" not in json.dumps(span_record(failed).to_json())  # the type only, never the message
    assert [f"{link.context.span_id:016x}" for link in failed.links] == [batch.span_id]


def test_an_ok_outcome_is_kept_when_an_abort_unwinds_the_block(recorded: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), span("rpc", kind=SpanKind.SERVER, parent=CALLER):
        annotate({"rpc.grpc.status_code": 5}, ok=True)  # NOT_FOUND: the caller's business
        raise RuntimeError("abort")
    [rpc] = recorded.get_finished_spans()
    assert rpc.status.status_code == StatusCode.OK and rpc.attributes == {"rpc.grpc.status_code": 5}


def test_the_sampling_decision_is_the_parents() -> None:
    provider, exporter = _provider(ParentBased(TraceIdRatioBased(0.0)))
    install_tracer(provider.get_tracer("test"))
    try:
        with span("root", parent=None) as root:
            assert root.flags == "00"  # a new trace at ratio 0: not recorded, ids still made
        with span("sampled caller", parent=CALLER) as followed:
            assert followed.flags == "01"
        with span("unsampled caller", parent=UNSAMPLED) as dropped:
            assert dropped.flags == "00" and dropped.trace_id == TRACE
        assert start_detached_span("publish", kind=SpanKind.PRODUCER, parent=UNSAMPLED) is None
        publish = start_detached_span("publish x", kind=SpanKind.PRODUCER, parent=CALLER, attributes={"a": "b"})
        assert publish is not None and publish.context.trace_id == TRACE
        publish.end(error="TimeoutError")
    finally:
        install_tracer(None)
    names = {s.name: s for s in exporter.get_finished_spans()}
    assert set(names) == {"sampled caller", "publish x"}
    assert names["publish x"].kind == SpanKind.PRODUCER
    assert names["publish x"].status.description == "TimeoutError"


def test_settings_from_the_environment() -> None:
    default = TracingSettings.from_env("orders", {})
    assert not default.enabled and default.sampler == DEFAULT_SAMPLER and default.sampler_arg == 0.1
    assert default.service_name == "orders" and default.traces_dir == Path("var/traces")
    custom = TracingSettings.from_env(
        "orders",
        {
            "OTEL_TRACES_EXPORTER": "otlp, file",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_SERVICE_NAME": "orders-api",
            "MES_INSTANCE": "orders-2",
            "MES_DATA_DIR": "/data",
        },
    )
    assert custom.exporters == ("otlp", "file") and custom.service_name == "orders-api"
    assert custom.traces_dir == Path("/data/traces") and custom.instance == "orders-2"
    assert TracingSettings.from_env("x", {"OTEL_TRACES_EXPORTER": "none"}).exporters == ()
    assert TracingSettings.from_env("x", {"OTEL_TRACES_EXPORTER": "file", "OTEL_SDK_DISABLED": "true"}).exporters == ()
    assert TracingSettings.from_env("x", {"MES_TRACES_DIR": "/t"}).traces_dir == Path("/t")
    for env, message in (
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER: unknown exporter 'jaeger'"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER: unknown sampler 'sometimes'"),
        ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG: 'half' is not a number"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG: 1.5 is not a ratio between 0 and 1"),
    ):
        with pytest.raises(ValueError, match=message):
            TracingSettings.from_env("x", env)


def test_samplers_by_name() -> None:
    assert make_sampler("always_on", 0.1) is ALWAYS_ON
    assert make_sampler("always_off", 0.1) is ALWAYS_OFF
    assert isinstance(make_sampler("traceidratio", 0.25), TraceIdRatioBased)
    assert "TraceIdRatioBased{0.25}" in make_sampler("parentbased_traceidratio", 0.25).get_description()
    with pytest.raises(ValueError):
        make_sampler("maybe", 0.1)


def test_configure_tracing_with_none_records_nothing() -> None:
    settings = configure_tracing("orders", {"OTEL_TRACES_EXPORTER": "none"})
    assert not settings.enabled and not tracing_enabled()


def test_the_file_exporter_writes_lines_the_reader_puts_in_a_tree(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "orders-1.jsonl"
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    install_tracer(provider.get_tracer("test"))
    try:
        with (
            span("server", kind=SpanKind.SERVER, parent=CALLER, attributes={"rpc.method": "SubmitOrder"}) as server,
            span("consumer", kind=SpanKind.CONSUMER, links=[CALLER]),
        ):
            pass
    finally:
        install_tracer(None)
        provider.shutdown()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    records = [SpanRecord.from_json(line) for line in lines]
    assert {r.kind for r in records} == {"server", "consumer"}
    spans = read_spans([path], server.trace_id)
    tree = span_tree(spans)
    assert [(depth, r.name) for depth, r in tree] == [(0, "server"), (1, "consumer")]
    assert tree[0][1].parent_span_id == CALLER.span_id  # the caller is outside the files: a root
    assert tree[0][1].attributes == {"rpc.method": "SubmitOrder"}
    assert tree[1][1].links[0].span_id == CALLER.span_id
    assert parse_traceparent(f"00-{server.trace_id}-{tree[1][1].parent_span_id}-01") == TraceContext(
        server.trace_id, server.span_id, "01"
    )


def test_a_full_trace_file_is_set_aside_and_a_new_one_begins(tmp_path: Path) -> None:
    assert TracingSettings.from_env("x", {"MES_TRACES_MAX_MB": "0.5"}).max_file_bytes == 512 * 1024
    with pytest.raises(ValueError, match="MES_TRACES_MAX_MB: 0 must be above 0"):
        TracingSettings.from_env("x", {"MES_TRACES_MAX_MB": "0"})
    path = tmp_path / "orders-1.jsonl"
    exporter = JsonLinesSpanExporter(path, max_bytes=1)  # every export fills the file
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_tracer(provider.get_tracer("test"))
    try:
        for name in ("first", "second", "third"):
            with span(name, kind=SpanKind.SERVER, parent=CALLER):
                pass
    finally:
        install_tracer(None)
        provider.shutdown()
    # the last full file is kept beside the current one (both end in .jsonl for the reader); older ones go
    assert exporter.previous == tmp_path / "orders-1.1.jsonl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders-1.1.jsonl"]
    (kept,) = read_spans([exporter.previous], CALLER.trace_id)
    assert kept.name == "third"
