"""Use cases of the production service: commands in, units of work, outbox events out."""
