"""Tests that configure logging put it back as it was (``configure_logging`` changes structlog's
configuration, the root logger and the context)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

__all__ = ["logging_restored"]


@contextmanager
def logging_restored(*propagating: str) -> Iterator[None]:
    """On exit: structlog's configuration, the root logger's handlers and level, and no service
    bound in the context, as before. The loggers named in ``propagating`` log through the root
    meanwhile (other tests, uvicorn for one, may have given them handlers of their own)."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = [logging.getLogger(name) for name in propagating]
    states = [(lg.handlers[:], lg.propagate, lg.disabled, lg.level) for lg in loggers]
    for lg in loggers:
        lg.handlers.clear()
        lg.propagate, lg.disabled = True, False
        lg.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)
        for lg, (lg_handlers, propagate, disabled, lg_level) in zip(loggers, states, strict=True):
            lg.handlers[:] = lg_handlers
            lg.propagate, lg.disabled = propagate, disabled
            lg.setLevel(lg_level)
        structlog.contextvars.unbind_contextvars("service")
