"""Stream positions: what an answer reflects at least, and what a request needs (read-your-writes).

A request may say which writes it must see with the header ``x-mes-min-position``:
``<stream>:<sequence>`` pairs separated by commas (``ORDERS:1042,PRODUCTION:77``), the JetStream
sequences at which its writes were published. A cached answer is good for it when, for every
stream named, the answer was computed at that position or later, or the replica has seen that
position and no event since the answer touched what the answer reads (the entry is not stale).
Otherwise the request bypasses the cache and its answer is computed afresh.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql_facade.events import STREAMS

__all__ = ["MIN_POSITION_HEADER", "MinPositionError", "Positions", "covers", "format_positions", "parse_min_positions"]

MIN_POSITION_HEADER = "x-mes-min-position"
Positions = Mapping[str, int]
_MAX_LENGTH = 256
_STREAMS = frozenset(STREAMS)
_FORMAT = f"comma-separated <stream>:<sequence> pairs, streams among {', '.join(STREAMS)} (e.g. ORDERS:1042)"


class MinPositionError(ValueError):
    """The header is not of the documented shape (the message says what is expected)."""


def parse_min_positions(raw: str | None) -> dict[str, int] | None:
    """``"ORDERS:12, production:3"`` -> ``{"ORDERS": 12, "PRODUCTION": 3}``; None for no header."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > _MAX_LENGTH:
        raise MinPositionError(f"`{MIN_POSITION_HEADER}` is longer than {_MAX_LENGTH} characters.")
    needed: dict[str, int] = {}
    for item in raw.split(","):
        stream, sep, seq = item.strip().partition(":")
        stream = stream.strip().upper()
        seq = seq.strip()
        if not sep or stream not in _STREAMS or not seq.isdigit() or len(seq) > 19:
            raise MinPositionError(f"`{MIN_POSITION_HEADER}` must be {_FORMAT}; got {item.strip()!r}.")
        needed[stream] = max(needed.get(stream, 0), int(seq))
    return needed


def format_positions(positions: Positions) -> str:
    """The header's form of ``positions`` (streams in registry order, zero positions left out)."""
    return ",".join(f"{s}:{positions[s]}" for s in STREAMS if positions.get(s))


def covers(computed_at: Positions, needed: Positions, *, seen: Positions, fresh: bool) -> bool:
    """Whether an answer computed at ``computed_at`` may answer a request needing ``needed``.

    ``seen``: the positions this replica has received; ``fresh``: no event after the answer touched it.
    """
    for stream, seq in needed.items():
        if seq <= computed_at.get(stream, 0):
            continue
        if not fresh or seq > seen.get(stream, 0):
            return False
    return True
