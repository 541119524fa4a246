"""Helpers of the bench without servers: the saga floor's chain, flame-graph summaries, spreads,
interpolated quantiles, the ports of the facades a bench starts."""

from __future__ import annotations

from pathlib import Path

from mes_stack.options import StackOptions
from mes_stack.plan import build_plan
from perf._common import response_cache_lookups
from perf._flame import self_time, summarize_svg
from perf._report import spread
from perf._saga_floor import chain_of
from perf._stack import BenchStack, HttpServer
from perf._stats import load_average, quantile

_SVG = """<svg><g id="frames">
<g><title>all (100 samples, 100%)</title><rect x="0" y="48" width="100%" height="15" fg:x="0" fg:w="100"/></g>
<g><title>run (asyncio/events.py:80) (100 samples, 100.00%)</title><rect x="0" y="32" fg:x="0" fg:w="100"/></g>
<g><title>execute (graphql/execute.py:10) (60 samples, 60.00%)</title><rect x="0" y="16" fg:x="0" fg:w="60"/></g>
<g><title>encode (json/encoder.py:5) (1,0 samples, 10%)</title><rect x="0" y="0" fg:x="0" fg:w="10"/></g>
<g><title>ListOrders (services/orders/entrypoints/api.py:5) (40 samples)</title><rect y="16" fg:x="60" fg:w="40"/></g>
</g></svg>"""


def test_perf_floor_chain_has_the_sagas_messages_and_inbox_rows_per_order() -> None:
    outbox = {"a.held": 1.0, "a.recorded": 4.0, "b.released": 1.0, "c.changed": 2.0}
    consumers = {"a.held": 2, "b.released": 2, "c.changed": 1}
    plan = chain_of(outbox, consumers, 300, first=1)
    assert plan.outbox_rows == 1 + 8  # the submission, then every row the saga wrote while draining
    assert plan.inbox_rows == 1 + 2 + 2 + 2  # each message once per consumer of its subject
    assert plan.fanouts[0] == 1 and sum(plan.riders) == 4 and plan.payload_bytes == 300


def test_perf_flame_summary_gives_self_time_by_component(tmp_path: Path) -> None:
    svg = tmp_path / "p.svg"
    svg.write_text(_SVG)
    total, frames = self_time(svg)
    assert total == 100
    selfs = {title.split(" (")[0]: n for title, n in frames}
    assert selfs["execute"] == 50 and selfs["encode"] == 10 and selfs["ListOrders"] == 40 and selfs["run"] == 0
    text = "\n".join(summarize_svg(svg))
    assert "50.0 %  graphql-core" in text and "40.0 %  service: entrypoints" in text and "10.0 %  JSON" in text


def test_perf_spread_is_the_median_and_range() -> None:
    assert spread([3.0, 1.0, 2.0], str) == "2.0 (1.0-3.0)"
    assert spread([4.0], str) == "4.0"
    assert spread([], str) == "—"


def test_perf_quantile_interpolates_between_the_closest_ranks_of_unsorted_values() -> None:
    assert quantile([], 0.5) == 0.0
    assert quantile([7.0], 0.95) == 7.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert quantile([30.0, 10.0, 20.0], 0.0) == 10.0 and quantile([30.0, 10.0, 20.0], 1.0) == 30.0
    assert quantile([0.0, 10.0], 0.95) == 9.5


def test_perf_response_cache_lookups_are_read_from_a_facades_metrics_by_result() -> None:
    metrics = "\n".join(
        [
            "# TYPE mes_facade_cache_lookups_total counter",
            'mes_facade_cache_lookups_total{cache="response",result="hit"} 12.0',
            'mes_facade_cache_lookups_total{cache="response",result="miss"} 3.0',
            'mes_facade_cache_lookups_total{cache="dataloader",result="hit"} 99.0',
        ]
    )
    assert response_cache_lookups(metrics) == {"hit": 12.0, "miss": 3.0}
    assert response_cache_lookups("") == {}


def test_perf_load_average_shows_the_three_averages() -> None:
    shown = load_average().split(" / ")
    assert len(shown) == 3 and all(float(value) >= 0.0 for value in shown)


def test_perf_facades_of_one_bench_stack_get_their_own_http_and_metrics_ports(tmp_path: Path) -> None:
    """Several facade replicas on one machine: each scraped on its own metrics port, none on its HTTP port."""
    stack = BenchStack(tmp_path, say=lambda _: None)
    options = StackOptions.resolve({}, data_dir=str(tmp_path / "data"))
    plan = build_plan(options, {}, python="python", nats_binary="nats-server", facade_available=True)
    stack._facade_template = next(s for s in plan.processes if s.role == "facade")
    specs = [stack.facade_spec(f"facade-{i}", {}) for i in (1, 2)]
    ports = [(spec.port, int(spec.env["MES_FACADE_METRICS_PORT"])) for spec in specs]
    assert len({port for pair in ports for port in pair}) == 4
    assert 18180 not in {metrics for _, metrics in ports}  # free ports, not the default one
    for spec, (port, metrics) in zip(specs, ports, strict=True):
        assert spec.env["MES_FACADE_PORT"] == str(port) and spec.env["MES_FACADE_METRICS_HOST"] == "127.0.0.1"
        assert [c.port for c in spec.claims] == [port, metrics]
        server = HttpServer(spec.name, port, 0, metrics)
        assert server.metrics_url == f"http://127.0.0.1:{metrics}/metrics" != server.url
