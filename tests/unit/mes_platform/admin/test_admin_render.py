"""Tables and JSON forms of dead letters and replays (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from mes_platform.admin.render import letter_details, letter_dict, letters_table, replay_dict, replays_table
from mes_platform.messaging.deadletters import DeadLetter, ReplayResult

CREATED = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)


def letter(letter_id: int, *, error: str = "ValueError: bad\n  File x", replayed: datetime | None = None) -> DeadLetter:
    return DeadLetter(
        id=letter_id,
        consumer="inventory-production-events",
        event_id=f"evt-{letter_id}",
        subject="subject.of.test",
        payload=b"\x01\x02\x03",
        headers={"Nats-Msg-Id": f"evt-{letter_id}"},
        error=error,
        deliveries=3,
        created_at=CREATED,
        replayed_at=replayed,
    )


def test_letters_table_shows_the_first_line_of_the_error() -> None:
    text = letters_table([letter(7), letter(12, error="x" * 100, replayed=CREATED)])
    header, rule, first, second = text.splitlines()
    assert header.split() == ["ID", "CONSUMER", "SUBJECT", "EVENT", "ID", "DELIVERIES", "CREATED", "REPLAYED", "ERROR"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert first.startswith(" 7  inventory-production-events  subject.of.test  evt-7 ")
    assert first.endswith("2026-05-01 10:00:00Z  -                     ValueError: bad")
    assert second.endswith("2026-05-01 10:00:00Z  2026-05-01 10:00:00Z  " + "x" * 67 + "...")
    assert letters_table([]) == "(no dead letters)"


def test_letter_details_and_dict() -> None:
    shown = letter_details(letter(7))
    assert shown.splitlines()[:3] == [
        "id:         7",
        "consumer:   inventory-production-events",
        "subject:    subject.of.test",
    ]
    assert "payload:    3 bytes" in shown
    assert shown.endswith("\n\nValueError: bad\n  File x")
    assert letter_dict(letter(7, replayed=CREATED)) == {
        "id": 7,
        "consumer": "inventory-production-events",
        "event_id": "evt-7",
        "subject": "subject.of.test",
        "deliveries": 3,
        "created_at": "2026-05-01T10:00:00+00:00",
        "replayed_at": "2026-05-01T10:00:00+00:00",
        "error": "ValueError: bad\n  File x",
        "headers": {"Nats-Msg-Id": "evt-7"},
        "payload_bytes": 3,
    }


def test_replays_table_and_dict() -> None:
    result = ReplayResult(7, "evt-7:replay:1", "PRODUCTION", 42, False)
    assert replays_table([result]).splitlines() == [
        "ID  MSG ID          STREAM      SEQ  DUPLICATE",
        "--  --------------  ----------  ---  ---------",
        " 7  evt-7:replay:1  PRODUCTION   42  no",
    ]
    assert replay_dict(result) == {
        "id": 7,
        "msg_id": "evt-7:replay:1",
        "stream": "PRODUCTION",
        "seq": 42,
        "duplicate": False,
    }
    assert replays_table([]) == "(nothing replayed)"
