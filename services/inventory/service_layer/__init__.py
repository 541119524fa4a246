"""Use cases of the inventory: commands in, domain objects out, through a unit of work."""
