"""The edge of the analytics service: the gRPC servicer, the event consumers, the codecs."""
