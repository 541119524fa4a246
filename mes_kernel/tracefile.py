"""The trace file format: finished spans as JSON lines, and reading a trace back as a tree.

The ``file`` trace exporter (``OTEL_TRACES_EXPORTER=file``, :mod:`mes_platform.telemetry.trace_export`)
appends one JSON object per finished span to ``<MES_TRACES_DIR>/<service>-<pid>.jsonl``: one file per
process, so processes never interleave their writes. ``mesctl traces`` reads every file of the folder
and prints a trace's spans as a tree across the processes. Both sides use this module (standard library
only), so the format is written down once.

One line::

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex or empty>",
     "name": "...", "kind": "server|client|producer|consumer|internal", "service": "orders",
     "instance": "orders-worker", "start_ns": 1765000000000000000, "end_ns": 1765000000001000000,
     "status": "ok|error|unset", "status_message": "...", "attributes": {"rpc.method": "..."},
     "links": [{"trace_id": "...", "span_id": "..."}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FILE_SUFFIX",
    "SpanLink",
    "SpanRecord",
    "TraceSummary",
    "read_spans",
    "span_tree",
    "summarize_traces",
    "trace_files",
]

#: The suffix of the exporter's files in the traces folder.
FILE_SUFFIX = ".jsonl"
_HEX = frozenset("0123456789abcdef")
_KINDS = frozenset({"server", "client", "producer", "consumer", "internal"})


def _hex_id(value: Any, length: int, what: str) -> str:
    if not isinstance(value, str) or len(value) != length or not set(value) <= _HEX:
        raise ValueError(f"{what} must be {length} lower-case hex digits, got {value!r}")
    return value


@dataclass(frozen=True)
class SpanLink:
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class SpanRecord:
    """One finished span as the file holds it."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str = "unset"
    status_message: str = ""
    instance: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[SpanLink, ...] = ()

    @property
    def duration_ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6

    def to_json(self) -> str:
        """The span as one line of the file (without the newline)."""
        return json.dumps(
            {
                "trace_id": self.trace_id,
                "span_id": self.span_id,
                "parent_span_id": self.parent_span_id,
                "name": self.name,
                "kind": self.kind,
                "service": self.service,
                "instance": self.instance,
                "start_ns": self.start_ns,
                "end_ns": self.end_ns,
                "status": self.status,
                "status_message": self.status_message,
                "attributes": dict(self.attributes),
                "links": [{"trace_id": link.trace_id, "span_id": link.span_id} for link in self.links],
            },
            separators=(",", ":"),
            default=str,
        )

    @classmethod
    def from_json(cls, line: str) -> SpanRecord:
        """Parse one line; ValueError (saying what is wrong) for anything that is not a span."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("a span line must be a JSON object")
        parent = data.get("parent_span_id") or ""
        kind = data.get("kind", "internal")
        if kind not in _KINDS:
            raise ValueError(f"unknown span kind {kind!r}")
        start, end = data.get("start_ns"), data.get("end_ns")
        if not isinstance(start, int) or not isinstance(end, int):
            raise ValueError("start_ns and end_ns must be integers")
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise ValueError("attributes must be an object")
        links = tuple(
            SpanLink(
                _hex_id(link.get("trace_id"), 32, "a link's trace_id"),
                _hex_id(link.get("span_id"), 16, "a link's span_id"),
            )
            for link in data.get("links") or ()
            if isinstance(link, dict)
        )
        return cls(
            trace_id=_hex_id(data.get("trace_id"), 32, "trace_id"),
            span_id=_hex_id(data.get("span_id"), 16, "span_id"),
            parent_span_id=_hex_id(parent, 16, "parent_span_id") if parent else "",
            name=str(data.get("name", "")),
            kind=kind,
            service=str(data.get("service", "")),
            instance=str(data.get("instance", "")),
            start_ns=start,
            end_ns=end,
            status=str(data.get("status", "unset")),
            status_message=str(data.get("status_message", "")),
            attributes=attributes,
            links=links,
        )


def trace_files(folder: Path) -> list[Path]:
    """The exporter's files in ``folder`` (sorted; none when the folder does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(FILE_SUFFIX) and p.is_file())


def _records(paths: Iterable[Path]) -> Iterator[SpanRecord]:
    """Every readable span of ``paths``; a line cut short by a process still writing is skipped."""
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n") or not line.strip():
                    continue  # the last line of a file being written, or a blank one
                try:
                    yield SpanRecord.from_json(line)
                except ValueError:
                    continue


def read_spans(paths: Iterable[Path], trace_id: str) -> list[SpanRecord]:
    """The spans of ``trace_id`` in ``paths``, by start time."""
    trace_id = _hex_id(trace_id.strip().lower(), 32, "a trace id")
    return sorted((r for r in _records(paths) if r.trace_id == trace_id), key=lambda r: (r.start_ns, r.span_id))


def span_tree(spans: Iterable[SpanRecord]) -> list[tuple[int, SpanRecord]]:
    """``(depth, span)`` in tree order: each span under its parent, siblings by start time. A span
    whose parent is not among ``spans`` (a caller outside the system, a span not exported yet) is a
    root of its own."""
    ordered = sorted(spans, key=lambda r: (r.start_ns, r.span_id))
    ids = {r.span_id for r in ordered}
    children: dict[str, list[SpanRecord]] = {}
    roots: list[SpanRecord] = []
    for record in ordered:
        if record.parent_span_id and record.parent_span_id in ids and record.parent_span_id != record.span_id:
            children.setdefault(record.parent_span_id, []).append(record)
        else:
            roots.append(record)
    out: list[tuple[int, SpanRecord]] = []
    seen: set[str] = set()

    def walk(record: SpanRecord, depth: int) -> None:
        if record.span_id in seen:
            return
        seen.add(record.span_id)
        out.append((depth, record))
        for child in children.get(record.span_id, ()):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return out


@dataclass(frozen=True)
class TraceSummary:
    """One trace of the folder: its first span, its extent and how many spans and services."""

    trace_id: str
    root_name: str
    start_ns: int
    end_ns: int
    spans: int
    services: tuple[str, ...]


def summarize_traces(paths: Iterable[Path]) -> list[TraceSummary]:
    """Every trace of ``paths``, most recent first."""
    by_trace: dict[str, list[SpanRecord]] = {}
    for record in _records(paths):
        by_trace.setdefault(record.trace_id, []).append(record)
    summaries = []
    for trace_id, records in by_trace.items():
        first = min(records, key=lambda r: (r.start_ns, r.span_id))
        summaries.append(
            TraceSummary(
                trace_id=trace_id,
                root_name=first.name,
                start_ns=first.start_ns,
                end_ns=max(r.end_ns for r in records),
                spans=len(records),
                services=tuple(sorted({r.service for r in records})),
            )
        )
    return sorted(summaries, key=lambda s: s.start_ns, reverse=True)
