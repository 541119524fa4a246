"""The two sides of the response cache's narrow invalidation, as the facade's unit tests check them:
the tags a cached answer reads (``reads``) and the tags an event touches (``touched``). An answer is
made stale by an event exactly when the two sets meet."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from graphql import parse

from graphql_facade.response_cache import reads_of, touches
from graphql_facade.schema import build_schemas
from mes_contracts import events

SCHEMAS = build_schemas()
OPERATOR_SCHEMA = SCHEMAS.operator_documents.graphql
PARTNER_SCHEMA = SCHEMAS.partner_documents.graphql


def reads(query: str, data: Any, variables: dict[str, Any] | None = None, *, partner: str | None = None) -> set[str]:
    """The tags the answer ``data`` to ``query`` reads: the operators' schema, or the partners' for ``partner``."""
    schema = PARTNER_SCHEMA if partner else OPERATOR_SCHEMA
    return set(reads_of(schema, parse(query), None, variables, partner, data))


def touched(kind: events.EventType[Message], message: Message) -> set[str]:
    """The tags the event ``message`` of ``kind`` touches; fails the test if it touches every answer."""
    found = touches(kind.subject, message.SerializeToString())
    assert found is not None
    return set(found)
