"""Named fault points for fault-injection tests.

A fault point is a place in the code where a crash is interesting (for example
between publishing an event and recording that it was published). It does nothing
unless the environment switches it on::

    MES_FAULT_POINT=relay.after_publish_before_mark          # crash on the first hit
    MES_FAULT_POINT=relay.after_publish_before_mark:3        # crash on the third hit
    MES_FAULT_POINT=consumer.after_commit_before_ack,relay.after_commit_before_publish

When a switched-on point is reached the process kills itself with SIGKILL, like
``kill -9`` from outside: no ``finally`` blocks, no graceful shutdown, no flushing.

Known points:

* ``relay.after_commit_before_publish`` -- the relay has read (claimed) committed outbox
  rows and not yet published them;
* ``relay.after_publish_before_mark`` -- JetStream acknowledged the batch, ``published_at``
  is not yet written;
* ``consumer.after_effect_before_commit`` -- the handler ran, the transaction is not committed;
* ``consumer.after_commit_before_ack`` -- the effect and inbox row are committed, the
  message is not acknowledged.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping

__all__ = ["ENV_VAR", "KNOWN_FAULT_POINTS", "fault_point", "parse_fault_points", "reset_fault_points"]

ENV_VAR = "MES_FAULT_POINT"
KNOWN_FAULT_POINTS = frozenset(
    {
        "relay.after_commit_before_publish",
        "relay.after_publish_before_mark",
        "consumer.after_effect_before_commit",
        "consumer.after_commit_before_ack",
    }
)

_hits: dict[str, int] = {}


def parse_fault_points(spec: str) -> dict[str, int]:
    """``"a,b:3"`` -> ``{"a": 1, "b": 3}`` (the hit on which each point fires)."""
    points: dict[str, int] = {}
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        name, _, nth = item.partition(":")
        try:
            count = int(nth) if nth else 1
        except ValueError:
            raise ValueError(f"{ENV_VAR}: bad hit count in {item!r}") from None
        if count < 1:
            raise ValueError(f"{ENV_VAR}: hit count must be >= 1 in {item!r}")
        points[name.strip()] = count
    return points


def _crash() -> None:  # pragma: no cover - the process is gone
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)


def fault_point(name: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Crash here if ``MES_FAULT_POINT`` names this point (on its configured hit).

    Returns False when the point is not armed; when it is armed but this is not yet the
    configured hit, it counts the hit and returns False too. ``env`` replaces
    ``os.environ`` (tests); with a crash replaced by ``_crash`` patching, returns True.
    """
    spec = (os.environ if env is None else env).get(ENV_VAR, "")
    if not spec:
        return False
    fire_on = parse_fault_points(spec).get(name)
    if fire_on is None:
        return False
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != fire_on:
        return False
    _crash()
    return True


def reset_fault_points() -> None:
    """Forget the hits counted so far (tests)."""
    _hits.clear()
