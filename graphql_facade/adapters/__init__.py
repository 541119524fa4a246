"""Adapters of the facade's ports: JetStream events over NATS (the services are called through ``clients``)."""
