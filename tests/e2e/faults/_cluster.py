"""A three-node JetStream cluster for the cluster fault test, run exactly as ``mes up
--nats-cluster 3`` runs it: the node command lines come from ``mes_stack.plan.nats_specs``
(routes, server names, one store per node), on blocks of consecutive free loopback ports.

Each node can be SIGKILLed and started again on its store. ``leader`` asks JetStream
(``$JS.API.STREAM.INFO``) which node leads a stream; ``wait_current`` waits until a node that
came back is a current replica (or the leader) of every stream again and its ``/healthz``
(which checks that its streams and consumers caught up) answers 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import nats.errors
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from mes_platform.messaging.connection import NatsConnection
from mes_stack.options import StackOptions
from mes_stack.plan import HttpProbe, ProcessSpec, nats_specs
from tests._infra.child import ChildProcess
from tests._infra.nats import NATS_MISSING, find_nats_server
from tests._infra.ports import LOOPBACK, free_port, stop_process
from tests._infra.process import require_binary
from tests.e2e.faults._procs import base_env

#: The saga's streams (each at 3 replicas on the cluster).
MES_STREAMS = ("ORDERS", "INVENTORY", "PRODUCTION")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port_blocks(blocks: int, size: int, *, avoid: Iterable[int] = (), tries: int = 200) -> list[int]:
    """The first ports of ``blocks`` runs of ``size`` consecutive free ports, not overlapping each other
    nor ``avoid`` (ports already given to other processes, free now only because none is bound yet;
    ``mes up`` gives node i the first port + i)."""
    firsts: list[int] = []
    taken: set[int] = set(avoid)
    for _ in range(tries):
        first = free_port()
        run = range(first, first + size)
        if first + size <= 65535 and not taken & set(run) and all(bindable(p) for p in run):
            firsts.append(first)
            taken.update(run)
            if len(firsts) == blocks:
                return firsts
    raise RuntimeError(f"no {blocks} blocks of {size} consecutive free ports found")


def cluster_env(size: int, *, beside: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``mes up`` knobs that put a cluster of ``size`` nodes on free consecutive ports, none of
    them a port that ``beside`` (another part of the stack's environment) already gives out."""
    avoid = {int(value) for key, value in (beside or {}).items() if key.endswith("_PORT") and value.isdigit()}
    client, monitor, route = free_port_blocks(3, size, avoid=avoid)
    return {
        "MES_STACK_NATS_PORT": str(client),
        "MES_STACK_NATS_MONITOR_PORT": str(monitor),
        "MES_STACK_NATS_CLUSTER_PORT": str(route),
    }


def _healthy(url: str) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=1.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class NatsNode(ChildProcess):
    spec: ProcessSpec
    log_path: Path = field(init=False)
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.log_path = self.spec.log_path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def url(self) -> str:
        return self.spec.address

    @property
    def health_url(self) -> str:
        assert isinstance(self.spec.probe, HttpProbe)
        return f"http://{LOOPBACK}:{self.spec.probe.port}/healthz"

    def spawn(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            list(self.spec.argv),
            env=dict(self.spec.env),
            stdin=subprocess.DEVNULL,
            stdout=self._open_log(),
            stderr=subprocess.STDOUT,
        )

    def healthy(self) -> bool:
        return self.running and _healthy(self.health_url)

    def kill(self) -> None:
        """SIGKILL, like ``kill -9``; the store stays for the next start."""
        if self.running:
            assert self.proc is not None
            stop_process(self.proc, sig=signal.SIGKILL, timeout=10.0)
            self.kills += 1
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=10.0)
        self._close_log()


@dataclass
class NatsCluster:
    """The nodes of ``mes up --nats-cluster N``; ``url`` lists them all (what services get)."""

    nodes: list[NatsNode]
    start_timeout_s: float = 60.0

    @classmethod
    def plan(cls, data_dir: Path, log_dir: Path, *, size: int = 3) -> NatsCluster:
        binary = require_binary(None, find_nats_server, NATS_MISSING)
        options = StackOptions.resolve(
            cluster_env(size), data_dir=str(data_dir), log_dir=str(log_dir), nats_cluster=size
        )
        return cls([NatsNode(spec) for spec in nats_specs(options, base_env(), binary)])

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(node for node in self.nodes if node.name == name)

    def names(self) -> list[str]:
        return [node.name for node in self.nodes]

    async def start(self, names: Sequence[str] | None = None) -> None:
        """Start the named nodes (all by default) and wait until each answers ``/healthz``."""
        chosen = [self.node(n) for n in names] if names is not None else self.nodes
        for node in chosen:
            node.spawn()
        deadline = time.monotonic() + self.start_timeout_s
        for node in chosen:
            while not await asyncio.to_thread(node.healthy):
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"{node.name} exited with {node.proc.returncode}:\n{node.log_tail()}")
                if time.monotonic() > deadline:
                    waited = f"{self.start_timeout_s:.0f}s"
                    raise TimeoutError(f"{node.name} not healthy within {waited}:\n{node.log_tail()}")
                await asyncio.sleep(0.1)

    async def kill(self, name: str) -> None:
        await asyncio.to_thread(self.node(name).kill)

    def close(self) -> None:
        for node in self.nodes:
            node.stop()

    def logs(self, lines: int = 10) -> str:
        return "\n".join(f"--- {node.name} ---\n{node.log_tail(lines)}" for node in self.nodes)


async def stream_info(conn: NatsConnection, stream: str, *, timeout_s: float = 30.0) -> StreamInfo:
    """``$JS.API.STREAM.INFO`` of ``stream``, asked again while the cluster elects a leader."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await asyncio.wait_for(conn.js.stream_info(stream), timeout=3)
        except (nats.errors.Error, NotFoundError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def leader(conn: NatsConnection, stream: str) -> str:
    """Server name of the node leading ``stream`` (waits while there is none)."""
    deadline = time.monotonic() + 30.0
    while True:
        info = await stream_info(conn, stream)
        if info.cluster is not None and info.cluster.leader:
            return info.cluster.leader
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stream} has no leader")
        await asyncio.sleep(0.2)


def _current(info: StreamInfo, node: str) -> bool:
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return False
    if cluster.leader == node:
        return True
    return any(peer.name == node and peer.current and not peer.offline for peer in cluster.replicas or [])


async def wait_current(
    conn: NatsConnection, cluster: NatsCluster, node: str, *, streams: Sequence[str] = MES_STREAMS, timeout_s: float
) -> float:
    """Until ``node`` answers ``/healthz`` and is a current replica (or the leader) of every
    stream; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        healthy = await asyncio.to_thread(cluster.node(node).healthy)
        infos = []
        with contextlib.suppress(nats.errors.Error, NotFoundError, TimeoutError):
            infos = [await stream_info(conn, stream, timeout_s=5.0) for stream in streams]
        if healthy and len(infos) == len(streams) and all(_current(info, node) for info in infos):
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise TimeoutError(f"{node} did not rejoin within {timeout_s:.0f}s:\n{cluster.node(node).log_tail()}")
        await asyncio.sleep(0.2)


async def replicas(conn: NatsConnection, streams: Sequence[str] = MES_STREAMS) -> dict[str, int]:
    """``num_replicas`` of each stream's configuration."""
    return {stream: (await stream_info(conn, stream)).config.num_replicas or 1 for stream in streams}
