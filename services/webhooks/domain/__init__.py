"""Pure domain model of the webhooks service (no I/O, no transport, no generated code)."""
