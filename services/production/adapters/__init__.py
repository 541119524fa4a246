"""SQLAlchemy storage and protobuf encoding of the production domain."""
