"""HTTP throughput windows with wrk, a C load generator (Debian: ``apt-get install -y wrk``).

A Python client saturates its core before the servers measured here do (it capped the
Starlette ceiling at ~4.6k requests/s), so closed-loop HTTP windows run ``wrk`` with
``perf/wrk/graphql.lua`` (one thread, pinned to the load generator's CPU): a warm-up run,
then the measured run. CPU per window: the servers' (``/proc/<pid>/stat``), wrk's own (this
process's reaped children), and the rest of the machine. The script installs nothing.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perf._common import PERF_DIR
from perf._stats import machine_busy_s, process_cpu_s

__all__ = ["WRK_SCRIPT", "WrkMissing", "children_cpu_s", "run_wrk", "wrk_binary"]

WRK_SCRIPT = PERF_DIR / "wrk" / "graphql.lua"


class WrkMissing(RuntimeError):
    pass


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run the bench again")
    return found


def _write_body(workdir: Path, body: bytes) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "wrk-body.json"
    path.write_bytes(body)
    return path


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's reaped children (wrk, drivers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _wrk(
    url: str, body_file: Path, headers: Mapping[str, str], conns: int, seconds: float, cpus: str | None
) -> dict[str, Any]:
    argv = [wrk_binary(), "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "--latency"]
    argv += ["-s", str(WRK_SCRIPT), url]
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    env = {"WRK_BODY_FILE": str(body_file), "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items())}
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=seconds + 60)
    for line in out.decode().splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[8:])
            return result
    raise RuntimeError(f"wrk gave no result (exit {proc.returncode}): {out.decode()[-800:]} {err.decode()[-800:]}")


async def run_wrk(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    conns: int,
    duration_s: float,
    warmup_s: float,
    workdir: Path,
    cpus: str | None,
    server_pids: Sequence[int],
) -> dict[str, Any]:
    """One closed-loop window: the summary in the load generator's format (``perf._stats.Summary``)."""
    body_file = _write_body(workdir, body)
    if warmup_s > 0:
        await _wrk(url, body_file, headers, conns, warmup_s, cpus)
    pids = list(server_pids)
    before = (children_cpu_s(), sum(process_cpu_s(p) for p in pids), machine_busy_s())
    r = await _wrk(url, body_file, headers, conns, duration_s, cpus)
    after = (children_cpu_s(), sum(process_cpu_s(p) for p in pids), machine_busy_s())
    elapsed = r["duration_us"] / 1e6
    client, servers, machine = (100.0 * (b - a) / elapsed for a, b in zip(before, after, strict=True))
    failed = r["non200"] + r["graphql_errors"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    ok = max(0, r["requests"] - r["non200"] - r["graphql_errors"])
    statuses = {"200": ok}
    if r["non200"]:
        statuses["non-200"] = r["non200"]
    if r["graphql_errors"]:
        statuses["200+errors"] = r["graphql_errors"]
    for kind in ("connect", "read", "write", "timeout"):
        if r[kind]:
            statuses[f"socket {kind}"] = r[kind]
    return {
        "ok": ok,
        "elapsed_s": round(elapsed, 3),
        "rate": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": r["p50_us"] / 1000,
        "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["max_us"] / 1000,
        "errors": {"failed": failed} if failed else {},
        "statuses": statuses,
        "client_cpu_pct": round(client, 1),
        "server_cpu_pct": round(servers, 1),
        "other_cpu_pct": round(max(0.0, machine - client - servers), 1),
        "extra": {"generator": "wrk", "bytes": r["bytes"], "conns": conns},
    }
