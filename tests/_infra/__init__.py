"""Test infrastructure: private servers on free loopback ports and throw-away databases.

Every server is started as a direct child process (no shell) and stopped by PID
(``process.ServerProcess``). See ``tests/README.md``.
"""

from tests._infra.nats import NatsServer, find_nats_server
from tests._infra.ports import free_port, free_ports, wait_until
from tests._infra.postgres import PostgresAdmin, PostgresCluster, pg_bindir
from tests._infra.process import ServerProcess
from tests._infra.redis import RedisServer, env_redis_url, find_redis_server

__all__ = [
    "NatsServer",
    "PostgresAdmin",
    "PostgresCluster",
    "RedisServer",
    "ServerProcess",
    "env_redis_url",
    "find_nats_server",
    "find_redis_server",
    "free_port",
    "free_ports",
    "pg_bindir",
    "wait_until",
]
