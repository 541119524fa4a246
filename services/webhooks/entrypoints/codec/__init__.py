"""Protobuf <-> domain, both ways, in one place (one module per direction).

* :mod:`.requests`: gRPC requests -> commands and queries (with the acting principal);
* :mod:`.messages`: domain objects -> response messages;
* :mod:`.consumed`: consumed order events -> the status changes the fan-out takes.
"""
