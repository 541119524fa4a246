"""The mapping helpers the services' adapters and codecs share: records <-> rows by field name
(``mes_platform.rows``), records -> protobuf messages (``mes_platform.wire.message_from``,
``timestamp``), and the stop of a background task (``mes_platform.tasks``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum

import pytest

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes_platform.rows import from_row, row_values
from mes_platform.tasks import cancel_and_wait
from mes_platform.wire import message_from, timestamp


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Record:
    key: str
    colour: Colour
    maybe: Colour | None
    at: datetime
    until: datetime | None
    count: int
    flag: bool
    note: str = "default"


NAIVE = datetime(2031, 5, 1, 12, 30)
AWARE = datetime(2031, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))


def test_row_values_reads_the_named_fields_enums_by_value_and_given_ones_win() -> None:
    record = Record("k", Colour.RED, None, AWARE, None, 3, True)
    got = row_values(record, ("key", "colour", "maybe", "count"), count=9)
    assert got == {"key": "k", "colour": "red", "maybe": None, "count": 9}


def test_from_row_converts_by_the_declared_types() -> None:
    row = {
        "key": "k",
        "colour": "blue",
        "maybe": "",
        "at": NAIVE,
        "until": AWARE,
        "count": 7,
        "flag": 1,
        "unrelated": "ignored",
    }
    got = from_row(Record, row)
    assert got == Record("k", Colour.BLUE, None, NAIVE.replace(tzinfo=UTC), AWARE, 7, True)
    assert got.at.tzinfo is UTC and got.until is not None and got.until.tzinfo is UTC
    assert from_row(Record, {**row, "maybe": "red", "until": None}).maybe is Colour.RED
    assert from_row(Record, {**row, "until": None}).until is None
    assert from_row(Record, row, note="given").note == "given"


def test_from_row_refuses_what_is_not_a_dataclass_and_bad_values() -> None:
    with pytest.raises(TypeError, match="needs a dataclass"):
        from_row(dict, {})
    with pytest.raises(ValueError, match="'green' is not a valid Colour"):
        from_row(
            Record, {"key": "k", "colour": "green", "maybe": None, "at": NAIVE, "until": None, "count": 1, "flag": 0}
        )


@dataclass
class Entry:
    delivery_id: str
    attempt: int
    http_status: int
    kind: str
    logged_at: datetime


def test_message_from_copies_scalars_by_name_and_takes_the_rest_as_given() -> None:
    entry = Entry("msg_1", 2, 503, "ATTEMPT", AWARE)
    got = message_from(
        pb.WebhookLogEntry, entry, kind=pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT, log_time=timestamp(entry.logged_at)
    )
    assert (got.delivery_id, got.attempt, got.http_status, got.error) == ("msg_1", 2, 503, "")
    assert got.kind == pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT
    assert got.log_time.ToDatetime(tzinfo=UTC) == AWARE


def test_message_from_refuses_to_copy_an_enum_or_message_field_as_it_is() -> None:
    with pytest.raises(TypeError, match=r"WebhookLogEntry: give kind \(not copied"):
        message_from(pb.WebhookLogEntry, Entry("msg_1", 1, 200, "ATTEMPT", AWARE))


def test_timestamp_keeps_none_and_takes_a_naive_time_as_utc() -> None:
    assert timestamp(None) is None
    naive = timestamp(NAIVE)
    assert naive is not None and naive.ToDatetime(tzinfo=UTC) == NAIVE.replace(tzinfo=UTC)
    aware = timestamp(AWARE)
    assert aware is not None and aware.ToDatetime(tzinfo=UTC) == AWARE


async def test_cancel_and_wait_ends_the_task_and_ignores_none() -> None:
    await cancel_and_wait(None)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(forever())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()
    await cancel_and_wait(task)  # an ended task: nothing more to do
