"""Transports of the orders service (gRPC; the event consumers live beside it)."""
