"""Storage and NATS adapters of the analytics service (they implement the ports)."""
