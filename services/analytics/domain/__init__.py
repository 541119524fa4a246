"""Pure domain model of the analytics service: facts, time buckets, statistics, shift calendars
(no I/O, no transport, no generated code)."""
