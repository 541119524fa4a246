"""configure_logging: structlog and standard-library records are JSON lines with the trace ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from mes_platform.telemetry.logs import configure_logging, get_logger
from mes_platform.telemetry.tracing import continue_trace, use_trace
from tests._infra.logs import logging_restored

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    # Other tests may have run uvicorn with its own logging config (own handlers, no propagation).
    with logging_restored("uvicorn", "uvicorn.error", "alembic", "alembic.runtime.migration"):
        yield


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_stdlib_and_structlog_lines_are_json_with_trace_ids(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("orders", "INFO")
    configure_logging("orders", "INFO")  # again: still one handler, no duplicated lines
    span = continue_trace(f"00-{TRACE}-00f067aa0ba902b7-01")
    with use_trace(span):
        logging.getLogger("alembic.runtime.migration").info("Running upgrade %s -> %s", "", "0001")
        logging.getLogger("uvicorn.error").warning("Started server process")
        get_logger("mes.test").info("hello", n=1)
    logging.getLogger("sqlalchemy.engine").debug("below the level")
    got = lines(capsys.readouterr().err)
    assert [line["event"] for line in got] == ["Running upgrade  -> 0001", "Started server process", "hello"]
    for line in got:
        assert line["trace_id"] == TRACE and line["span_id"] == span.span_id
        assert line["service"] == "orders" and "timestamp" in line
    assert got[0]["logger"] == "alembic.runtime.migration" and got[0]["level"] == "info"
    assert got[1]["logger"] == "uvicorn.error" and got[1]["level"] == "warning"


def test_exceptions_of_stdlib_records_are_rendered(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("inventory", "WARNING")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    logging.getLogger("asyncio").info("not shown")
    [line] = lines(capsys.readouterr().err)
    assert line["level"] == "error" and "RuntimeError: boom" in str(line["exception"])
