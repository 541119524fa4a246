"""The inventory domain: pure dataclasses, state machines and allocation rules.

Nothing here imports gRPC, SQLAlchemy, NATS or generated code.
"""
