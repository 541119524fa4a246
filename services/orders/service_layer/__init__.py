"""Use cases of the orders service, written against the ports in :mod:`.ports`."""
