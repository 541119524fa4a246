"""Pure production domain: no gRPC, SQLAlchemy, NATS or generated code here."""
