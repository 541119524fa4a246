"""The production codec: protobuf <-> domain, both ways, in one place.

``requests``   request messages -> commands and queries (with the caller);
``responses``  domain objects -> reply messages;
``events``     domain events -> registered event messages (``encode_event``), and the
               events production consumes -> the commands its handlers take.
"""
