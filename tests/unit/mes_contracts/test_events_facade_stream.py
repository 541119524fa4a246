"""The facade's own stream: registered with its event, ensured by the facade only, consumed by no one."""

from __future__ import annotations

from graphql_facade.adapters.nats_events import SUBJECTS
from graphql_facade.events import STREAMS as HUB_STREAMS
from mes_contracts import events
from mes_platform.messaging.streams import MES_STREAMS, stream_for_subject
from mes_platform.messaging.subjects import subject_matches


def test_the_usage_event_goes_to_the_facade_stream() -> None:
    kind = events.PARTNER_USAGE_RECORDED
    assert kind in events.ALL_EVENTS and kind.stream is events.FACADE_STREAM
    assert events.FACADE_STREAM.subjects == ("facade.>",) and events.FACADE_STREAM.name == "FACADE"
    assert stream_for_subject(kind.subject, events.ALL_STREAMS) is events.FACADE_STREAM
    assert events.events_of("facade") == (kind,)
    assert set(events.ALL_STREAMS) == {*events.STREAMS, events.FACADE_STREAM}


def test_no_service_ensures_it_and_no_facade_replica_consumes_it() -> None:
    kind = events.PARTNER_USAGE_RECORDED
    assert events.FACADE_STREAM not in MES_STREAMS  # what every service ensures at start
    assert "FACADE" not in HUB_STREAMS  # the streams whose positions the facade's hub tracks
    assert not any(subject_matches(pattern, kind.subject) for pattern in SUBJECTS)
