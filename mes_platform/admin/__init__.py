"""Operator tools of the platform: dead letters and re-publishing, one service at a time.

They do not go through a service's gRPC API (the contracts have no admin RPCs for them):
they open the service's database (its outbox and dead-letter tables) and NATS directly,
with the settings the service itself reads. The service is described by its
:class:`~mes_platform.runtime.ServiceSpec` (name, infrastructure tables, settings), which the
caller passes in: the platform never imports a service. ``mes events ...``
(:mod:`mes_stack.__main__`) is the command line over :mod:`mes_platform.admin.cli`.

- :mod:`~mes_platform.admin.target`: where a service's data and NATS are (flags, then settings);
- :mod:`~mes_platform.admin.events`: list, show and replay dead letters; re-publish a time range;
- :mod:`~mes_platform.admin.render`: text tables of the results;
- :mod:`~mes_platform.admin.cli`: the ``events`` command group (arguments, output, exit codes).
"""

__all__: list[str] = []
