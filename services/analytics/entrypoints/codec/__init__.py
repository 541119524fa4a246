"""Protobuf <-> domain, both ways, in one place (one module per direction).

* :mod:`.requests`: gRPC requests -> queries and commands (windows checked, facts decoded);
* :mod:`.messages`: answers -> response messages;
* :mod:`.consumed`: consumed events -> the facts the projection merges.
"""
