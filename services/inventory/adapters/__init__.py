"""SQLAlchemy tables and repositories, the outbox sink and the protobuf codec."""
