"""SQLAlchemy and outbox implementations of the service-layer ports."""
