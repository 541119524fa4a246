"""Text and JSON-ready forms of the admin results: dead letters and replays as aligned tables and
key/value details (``mes_kernel.text``, as ``mesctl`` prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mes_kernel.text import details, stamp, table
from mes_platform.messaging.deadletters import DeadLetter, ReplayResult

__all__ = [
    "details",
    "letter_details",
    "letter_dict",
    "letters_table",
    "replay_dict",
    "replays_table",
    "stamp",
    "table",
]


def _first_line(text: str, width: int = 70) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def letter_dict(letter: DeadLetter) -> dict[str, Any]:
    """The JSON form of a dead letter (the payload by its size only)."""
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "event_id": letter.event_id,
        "subject": letter.subject,
        "deliveries": letter.deliveries,
        "created_at": letter.created_at.isoformat(),
        "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
        "error": letter.error,
        "headers": letter.headers,
        "payload_bytes": len(letter.payload),
    }


def letters_table(letters: Sequence[DeadLetter]) -> str:
    rows = [
        (
            d.id,
            d.consumer,
            d.subject,
            d.event_id,
            d.deliveries,
            stamp(d.created_at),
            stamp(d.replayed_at),
            _first_line(d.error),
        )
        for d in letters
    ]
    return table(
        ["ID", "CONSUMER", "SUBJECT", "EVENT ID", "DELIVERIES", "CREATED", "REPLAYED", "ERROR"],
        rows,
        empty="(no dead letters)",
    )


def letter_details(letter: DeadLetter) -> str:
    """The dead letter's fields, a blank line, then its whole error."""
    pairs: list[tuple[str, object]] = [
        ("id", letter.id),
        ("consumer", letter.consumer),
        ("subject", letter.subject),
        ("event id", letter.event_id),
        ("deliveries", letter.deliveries),
        ("created", stamp(letter.created_at)),
        ("replayed", stamp(letter.replayed_at)),
        ("payload", f"{len(letter.payload)} bytes"),
    ]
    return details(pairs) + "\n\n" + letter.error


def replay_dict(result: ReplayResult) -> dict[str, Any]:
    return {
        "id": result.dead_letter_id,
        "msg_id": result.msg_id,
        "stream": result.stream,
        "seq": result.seq,
        "duplicate": result.duplicate,
    }


def replays_table(results: Sequence[ReplayResult]) -> str:
    rows = [(r.dead_letter_id, r.msg_id, r.stream, r.seq, r.duplicate) for r in results]
    return table(["ID", "MSG ID", "STREAM", "SEQ", "DUPLICATE"], rows, empty="(nothing replayed)")
