"""Protobuf <-> domain, both ways, in one place (one module per direction).

* :mod:`.requests`: gRPC requests -> commands and queries (with the acting principal);
* :mod:`.messages`: domain objects -> response messages, and domain events -> the
  registered event messages (:func:`encode_event`, handed to the unit-of-work factory by
  the bootstrap);
* :mod:`.consumed`: consumed event messages -> what the event handlers take.
"""
