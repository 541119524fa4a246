"""Adapters of the facade's ports: the services over gRPC, JetStream events over NATS."""
