"""Structured logs: JSON lines on stderr (key=value when MES_LOG_FORMAT=console).

structlog loggers and standard-library loggers (Alembic, uvicorn, asyncio, grpc, nats, ...)
go through the same renderer, so a process's log is JSON lines only. Lines logged inside
a trace carry ``trace_id`` and ``span_id`` (see :mod:`mes_platform.telemetry.tracing`), whatever
the logger.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

__all__ = ["configure_logging", "get_logger"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (it may be replaced)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


def _stderr_logger(*args: object) -> structlog.PrintLogger:
    """structlog's logger on whatever ``sys.stderr`` is when the line is logged."""
    return structlog.PrintLogger(sys.stderr)


def configure_logging(service: str, level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog and route the standard library's records through its renderer.

    Calling it again replaces the previous configuration (handlers of others are left alone).
    """
    levelno = logging.getLevelName(level.upper())
    if not isinstance(levelno, int):
        levelno = logging.INFO
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(levelno),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)

    handler = _StderrHandler()
    handler.setLevel(levelno)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.set_name("mes-structlog")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "mes-structlog"]:
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level > levelno:
        root.setLevel(levelno)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
