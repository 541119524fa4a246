"""Transport adapters: the gRPC servicer (and, later, event consumers)."""
