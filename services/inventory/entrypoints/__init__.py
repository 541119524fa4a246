"""Transport: the gRPC servicer, the event consumers, the periodic retry and the protobuf codec."""
