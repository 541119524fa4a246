"""Where a process's spans go: the ``OTEL_*`` settings, the sampler and the exporters.

Every process (service, worker, facade) calls :func:`configure_tracing` once at start-up. The
settings are the standard OpenTelemetry variables, read from the environment:

==============================  ===========================  ==========================================
variable                        default                      meaning
==============================  ===========================  ==========================================
``OTEL_TRACES_EXPORTER``        ``none``                     ``none`` (ids and logs only, no SDK
                                                             work), ``otlp`` (OTLP over HTTP),
                                                             ``console`` (stdout), ``file`` (JSON
                                                             lines, ``mesctl traces``); comma
                                                             separated for several
``OTEL_EXPORTER_OTLP_ENDPOINT`` ``http://localhost:4318``    the collector (``/v1/traces`` is
                                                             appended; ``OTEL_EXPORTER_OTLP_TRACES_
                                                             ENDPOINT`` is used as is, and
                                                             ``..._HEADERS``, ``..._TIMEOUT`` apply)
``OTEL_TRACES_SAMPLER``         ``parentbased_traceidratio`` ``always_on``, ``always_off``,
                                                             ``traceidratio``, ``parentbased_...``
                                                             of each
``OTEL_TRACES_SAMPLER_ARG``     ``0.1``                      the ratio of the ``traceidratio``
                                                             samplers (0 to 1)
``OTEL_SERVICE_NAME``           the process's service        ``service.name`` of its spans (``mes up``
                                                             sets one per process)
``MES_TRACES_DIR``              ``$MES_DATA_DIR/traces``     the folder of the ``file`` exporter
                                (``var/traces``)             (one ``<service>-<pid>.jsonl`` per process)
``MES_TRACES_MAX_MB``           ``64``                       a ``file`` exporter's file: when full it
                                                             becomes ``<service>-<pid>.1.jsonl``
                                                             (replacing the last one) and a new one
                                                             begins
==============================  ===========================  ==========================================

Why ``parentbased_traceidratio`` at 0.1: the decision is taken once, where a trace starts (the
facade's request, a gRPC call without ``traceparent``), and every later hop follows the flags of
its parent, so a sampled order is traced whole through the saga and an unsampled one costs only
its ids; a tenth of the roots keeps the span work and the export bounded under load, and a caller
that sends a sampled ``traceparent`` (``...-01``) always gets its request traced. ``mes up`` traces
every request (``parentbased_always_on``) into files, for the local stack's user.

The ``BatchSpanProcessor`` settings (``OTEL_BSP_*``) are the SDK's own. Spans are flushed when the
process exits.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind, StatusCode

from mes_kernel.tracefile import SpanLink, SpanRecord
from mes_platform.telemetry.logs import get_logger
from mes_platform.telemetry.tracing import install_tracer

__all__ = [
    "DEFAULT_SAMPLER",
    "DEFAULT_SAMPLER_ARG",
    "EXPORTERS",
    "JsonLinesSpanExporter",
    "TracingSettings",
    "configure_tracing",
    "make_sampler",
    "span_record",
    "use_provider",
]

DEFAULT_SAMPLER = "parentbased_traceidratio"
DEFAULT_SAMPLER_ARG = 0.1
EXPORTERS = ("none", "otlp", "console", "file")
_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
_KIND_NAMES = {
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
    SpanKind.INTERNAL: "internal",
}
_STATUS_NAMES = {StatusCode.OK: "ok", StatusCode.ERROR: "error", StatusCode.UNSET: "unset"}

_log = get_logger("mes.tracing")


@dataclass(frozen=True)
class TracingSettings:
    """What :func:`configure_tracing` read (see the module's table)."""

    exporters: tuple[str, ...]
    sampler: str
    sampler_arg: float
    service_name: str
    instance: str
    traces_dir: Path
    #: The ``file`` exporter's bound per file (``MES_TRACES_MAX_MB``).
    max_file_bytes: int = 64 * 1024 * 1024

    @property
    def enabled(self) -> bool:
        return bool(self.exporters)

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str]) -> TracingSettings:
        """The settings of ``env``; ValueError naming the variable for a value that cannot be used."""
        raw = env.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "none"
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        unknown = [n for n in names if n not in EXPORTERS]
        if unknown:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {unknown[0]!r} (one of {', '.join(EXPORTERS)})")
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            names = ()
        exporters = tuple(n for n in names if n != "none")
        sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or DEFAULT_SAMPLER
        if sampler not in _SAMPLERS:
            raise ValueError(f"OTEL_TRACES_SAMPLER: unknown sampler {sampler!r} (one of {', '.join(_SAMPLERS)})")
        arg_text = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
        try:
            arg = float(arg_text) if arg_text else DEFAULT_SAMPLER_ARG
        except ValueError:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG: {arg_text!r} is not a number") from None
        if not 0.0 <= arg <= 1.0:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG: {arg_text} is not a ratio between 0 and 1")
        max_mb_text = env.get("MES_TRACES_MAX_MB", "").strip()
        try:
            max_mb = float(max_mb_text) if max_mb_text else 64.0
        except ValueError:
            raise ValueError(f"MES_TRACES_MAX_MB: {max_mb_text!r} is not a number") from None
        if max_mb <= 0:
            raise ValueError(f"MES_TRACES_MAX_MB: {max_mb_text} must be above 0")
        folder = env.get("MES_TRACES_DIR", "").strip()
        data_dir = env.get("MES_DATA_DIR", "").strip() or "var"
        return cls(
            exporters=exporters,
            sampler=sampler,
            sampler_arg=arg,
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or service,
            instance=env.get("MES_INSTANCE", "").strip(),
            traces_dir=Path(folder) if folder else Path(data_dir) / "traces",
            max_file_bytes=int(max_mb * 1024 * 1024),
        )


def make_sampler(name: str, arg: float) -> Sampler:
    """The SDK sampler of an ``OTEL_TRACES_SAMPLER`` name and its ratio."""
    root: Sampler
    base = name.removeprefix("parentbased_")
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    elif base == "traceidratio":
        root = TraceIdRatioBased(arg)
    else:
        raise ValueError(f"unknown sampler {name!r}")
    return ParentBased(root) if name.startswith("parentbased_") else root


def span_record(span: ReadableSpan) -> SpanRecord:
    """A finished SDK span in the trace file format (:mod:`mes_kernel.tracefile`)."""
    ctx = span.context
    assert ctx is not None
    parent = span.parent
    resource = span.resource.attributes if span.resource is not None else {}
    return SpanRecord(
        trace_id=f"{ctx.trace_id:032x}",
        span_id=f"{ctx.span_id:016x}",
        parent_span_id=f"{parent.span_id:016x}" if parent is not None else "",
        name=span.name,
        kind=_KIND_NAMES.get(span.kind, "internal"),
        service=str(resource.get("service.name", "")),
        instance=str(resource.get("service.instance.id", "")),
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        status=_STATUS_NAMES.get(span.status.status_code, "unset"),
        status_message=span.status.description or "",
        attributes=dict(span.attributes or {}),
        links=tuple(SpanLink(f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in span.links),
    )


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON line to ``path`` (the ``file`` exporter).

    The file is bounded: once it holds ``max_bytes`` it becomes ``<stem>.1.jsonl`` (replacing the
    previous one) and a new file begins, so a process keeps at most twice ``max_bytes`` of spans on
    disk (``MES_TRACES_MAX_MB``, 64 by default).
    """

    def __init__(self, path: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None

    @property
    def previous(self) -> Path:
        """Where the file goes when it is full (still read by ``mesctl traces``: it ends in .jsonl)."""
        return self.path.with_name(self.path.stem + ".1" + self.path.suffix)

    def _rotate_if_full(self, handle: IO[str]) -> None:
        if handle.tell() < self.max_bytes:
            return
        handle.close()
        self._handle = None
        os.replace(self.path, self.previous)

    def _open(self) -> IO[str]:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        return self._handle

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        text = "".join(span_record(span).to_json() + "\n" for span in spans)
        try:
            with self._lock:
                handle = self._open()
                handle.write(text)
                handle.flush()
                self._rotate_if_full(handle)
        except OSError as exc:
            _log.warning("trace_export_failed", path=str(self.path), error=repr(exc))
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _exporter(name: str, settings: TracingSettings) -> SpanExporter:
    if name == "otlp":
        # Imported here: only a process that exports over OTLP loads the exporter (and requests).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT from the environment
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "file":
        file_stem = (settings.instance or settings.service_name).replace(os.sep, "_")
        return JsonLinesSpanExporter(
            settings.traces_dir / f"{file_stem}-{os.getpid()}.jsonl", max_bytes=settings.max_file_bytes
        )
    raise ValueError(f"unknown exporter {name!r}")


_GLOBAL_SET = False


def use_provider(provider: TracerProvider | None) -> None:
    """Record spans with ``provider`` from now on (None: ids only). The first provider also becomes
    OpenTelemetry's global one, which the client library's client spans use."""
    global _GLOBAL_SET
    if provider is None:
        install_tracer(None)
        return
    if not _GLOBAL_SET:
        otel_trace.set_tracer_provider(provider)
        _GLOBAL_SET = True
    install_tracer(provider.get_tracer("mes"))


def configure_tracing(service: str, env: Mapping[str, str] | None = None) -> TracingSettings:
    """Read the settings and, unless the exporter is ``none``, record spans through a
    ``TracerProvider`` with the configured sampler and a batch processor per exporter."""
    settings = TracingSettings.from_env(service, os.environ if env is None else env)
    if not settings.enabled:
        use_provider(None)
        return settings
    attributes: dict[str, str] = {"service.name": settings.service_name}
    if settings.instance:
        attributes["service.instance.id"] = settings.instance
    provider = TracerProvider(
        sampler=make_sampler(settings.sampler, settings.sampler_arg), resource=Resource.create(attributes)
    )
    for name in settings.exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, settings)))
    use_provider(provider)
    _log.info(
        "tracing_configured",
        exporters=",".join(settings.exporters),
        sampler=settings.sampler,
        sampler_arg=settings.sampler_arg,
        service_name=settings.service_name,
    )
    return settings
