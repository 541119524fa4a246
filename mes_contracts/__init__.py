"""Hand-written companions of the generated contracts (``mes.*``, from ``protos/``).

:mod:`mes_contracts.events` is the one registry of event subjects: which subject carries
which protobuf message, and which stream holds it. Everything that publishes, consumes,
decodes or tests events names them through it; no subject is spelled anywhere else.
"""
