"""Transport adapters: the gRPC servicer and its request decoding."""
