"""The local stack: ``mes up`` runs nats-server, the three services (and the GraphQL
facade when present) as child processes, loads demo data and stops everything on Ctrl-C.

Modules: ``options`` (arguments + environment), ``plan`` (what to run, pure), ``tcp``
(TCP port checks), ``health`` (readiness probes), ``supervisor`` (child processes),
``up`` (the ``mes up`` flow), ``summary`` (what is printed), ``demo_data`` / ``demo``
(demo definitions and loader), ``demo_history`` (the analytics' made-up weeks), ``database``
(``mes db provision|migrate``), ``state`` (``<data-dir>/stack.json``), ``run_one`` (``mes run``:
one process as ``mes up`` runs it), ``postgres`` (the PostgreSQL primary and streaming replica of
``--postgres-replica``, also the test suite's servers).
"""
