"""Pure domain model of the orders service (no I/O, no transport, no generated code)."""
