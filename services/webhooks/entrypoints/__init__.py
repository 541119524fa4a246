"""The edge of the webhooks service: the gRPC servicer, the event consumer, the codecs."""
