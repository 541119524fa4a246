"""``mesctl traces``: the traces the local stack wrote to its trace files, as span trees across processes::

    mesctl traces list [--limit 20]          the most recent traces: id, first span, spans, services
    mesctl traces show TRACE_ID              every span of one trace, each under its parent

The spans come from the ``file`` trace exporter (``OTEL_TRACES_EXPORTER=file``, the default of ``mes up``),
one JSON-lines file per process in the traces folder: ``--dir``, else ``MES_TRACES_DIR``, else
``$MES_DATA_DIR/traces``, else ``var/traces`` (the format: :mod:`mes_kernel.tracefile`). Nothing is called:
the command reads files, so it works offline and while the stack runs (a span shows once its process has
written it, within about five seconds: the exporter writes in batches).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from clients.cli._app import CliUsageError, Context, Subcommands, add_command, add_group
from mes_kernel.tracefile import SpanRecord, read_spans, span_tree, summarize_traces, trace_files

__all__ = ["DESCRIPTION", "register", "render_tree", "traces_dir"]

DESCRIPTION = "the traces the local stack wrote (OTEL_TRACES_EXPORTER=file), as span trees across processes"
#: Attributes worth a column's worth of text in the tree (the others are in ``-o json``).
_SHOWN = (
    "mes.order_id",
    "messaging.message.id",
    "messaging.batch.message_count",
    "rpc.grpc.status_code",
    "http.response.status_code",
)


def traces_dir(given: str | None, env: Mapping[str, str] | None = None) -> Path:
    """The traces folder: ``given``, else ``MES_TRACES_DIR``, else ``$MES_DATA_DIR/traces``, else ``var/traces``."""
    env = os.environ if env is None else env
    if given:
        return Path(given)
    if env.get("MES_TRACES_DIR", "").strip():
        return Path(env["MES_TRACES_DIR"].strip())
    return Path(env.get("MES_DATA_DIR", "").strip() or "var") / "traces"


def register(commands: Subcommands) -> None:
    group = add_group(commands, "traces", DESCRIPTION)
    listing = add_command(group, "list", _list, "the most recent traces: id, first span, spans, services")
    listing.add_argument("--dir", help="the traces folder (default: MES_TRACES_DIR, else $MES_DATA_DIR/traces)")
    listing.add_argument("--limit", type=int, default=20, help="how many traces (20)")
    show = add_command(group, "show", _show, "every span of one trace, each under its parent")
    show.add_argument("trace_id", metavar="TRACE_ID", help="32 hex digits (a log line's trace_id)")
    show.add_argument("--dir", help="the traces folder (default: MES_TRACES_DIR, else $MES_DATA_DIR/traces)")


def _files(args: argparse.Namespace) -> list[Path]:
    folder = traces_dir(args.dir)
    files = trace_files(folder)
    if not files:
        raise CliUsageError(
            f"no trace files in {folder} (start the stack with OTEL_TRACES_EXPORTER=file, the default of `mes up`,"
            " or give --dir)"
        )
    return files


def _clock(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")[:-4] + "Z"


async def _list(args: argparse.Namespace, ctx: Context) -> int | None:
    if args.limit < 1:
        raise CliUsageError("--limit must be at least 1")
    summaries = summarize_traces(_files(args))[: args.limit]

    def render() -> str:
        lines = [f"{'STARTED':<24}  {'TRACE':<32}  {'SPANS':>5}  {'MS':>9}  FIRST SPAN / SERVICES"]
        for s in summaries:
            ms = (s.end_ns - s.start_ns) / 1e6
            started = _clock(s.start_ns)
            lines.append(
                f"{started:<24}  {s.trace_id}  {s.spans:>5}  {ms:>9.1f}  {s.root_name} / {', '.join(s.services)}"
            )
        return "\n".join(lines)

    ctx.output.emit([summary.__dict__ for summary in summaries], render)
    return None


def render_tree(spans: list[SpanRecord]) -> str:
    """The spans of one trace as an indented tree: start offset, duration, service, kind, name."""
    tree = span_tree(spans)
    first = min(span.start_ns for span in spans)
    services = sorted({span.service for span in spans})
    lines = [f"trace {spans[0].trace_id}: {len(spans)} spans, {', '.join(services)}"]
    lines.append(f"{'+MS':>9}  {'MS':>8}  {'SERVICE':<17}  {'KIND':<8}  SPAN")
    for depth, span in tree:
        extras = [f"{key}={span.attributes[key]}" for key in _SHOWN if key in span.attributes]
        if span.links:
            extras.append("links=" + ",".join(link.span_id for link in span.links))
        if span.status == "error":
            extras.append(f"ERROR {span.status_message}".rstrip())
        offset = (span.start_ns - first) / 1e6
        name = "  " * depth + span.name + (f"  [{' '.join(extras)}]" if extras else "")
        service = span.instance or span.service
        lines.append(f"{offset:>9.1f}  {span.duration_ms:>8.1f}  {service:<17}  {span.kind:<8}  {name}")
    return "\n".join(lines)


async def _show(args: argparse.Namespace, ctx: Context) -> int | None:
    try:
        spans = read_spans(_files(args), args.trace_id)
    except ValueError as exc:
        raise CliUsageError(str(exc)) from None
    if not spans:
        raise CliUsageError(f"no span of trace {args.trace_id} in {traces_dir(args.dir)}")
    data = [
        {**span.__dict__, "links": [link.__dict__ for link in span.links], "depth": depth}
        for depth, span in span_tree(spans)
    ]
    ctx.output.emit(data, lambda: render_tree(spans))
    return None
