"""Storage and HTTP adapters of the webhooks service (they implement the ports)."""
