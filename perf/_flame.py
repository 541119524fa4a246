"""Where a process spent its samples, read back from a py-spy flame graph (SVG).

py-spy writes inferno SVGs: one ``<g>`` per frame with a ``<title>`` (``function (file:line)
(N samples, P%)``), its depth as ``y`` and its place as ``fg:x``/``fg:w`` (in samples). A
frame's self time is its width minus its children's (the frames one level further whose range
lies inside it). The summary groups self time by component (graphql-core, Strawberry, the
facade, gRPC, protobuf, SQLAlchemy, asyncpg, JSON, the services, the event loop...) and lists
the functions with the most self time.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from pathlib import Path

__all__ = ["CATEGORIES", "self_time", "summarize_svg"]

_FRAME = re.compile(
    r"<g><title>(?P<title>.*?)</title><rect [^>]*?y=\"(?P<y>[0-9.]+)\""
    r"[^>]*?fg:x=\"(?P<x>\d+)\"[^>]*?fg:w=\"(?P<w>\d+)\"",
    re.S,
)
#: (component, substring of the frame's file) in order: the first match names the component.
CATEGORIES = (
    ("graphql-core", "(graphql/"),
    ("Strawberry", "(strawberry/"),
    ("facade: compiled plans", "(graphql_facade/compiled/"),
    ("facade: limits", "(graphql_facade/limits/"),
    ("facade: caches", "(graphql_facade/response_cache/"),
    ("facade", "(graphql_facade/"),
    ("clients", "(clients/"),
    ("gRPC", "(grpc/"),
    ("protobuf", "(google/protobuf/"),
    ("SQLAlchemy", "(sqlalchemy/"),
    ("asyncpg", "(asyncpg/"),
    ("JSON", "(json/"),
    ("JSON", "orjson"),
    ("nats-py", "(nats/"),
    ("platform: messaging", "(mes_platform/messaging/"),
    ("platform", "(mes_platform/"),
    ("kernel", "(mes_kernel/"),
    ("service: domain", "/domain/"),
    ("service: adapters", "/adapters/"),
    ("service: entrypoints", "/entrypoints/"),
    ("service: service layer", "/service_layer/"),
    ("HTTP server (uvicorn/starlette)", "(uvicorn/"),
    ("HTTP server (uvicorn/starlette)", "(starlette/"),
    ("HTTP server (uvicorn/starlette)", "(httptools/"),
    ("event loop callbacks: C/Cython code called from them (gRPC core, uvloop)", "Handle._run (asyncio/"),
    ("event loop and socket I/O", "(asyncio/"),
    ("waiting in epoll (sampled while runnable)", "(selectors.py"),
    ("event loop and socket I/O", "(uvloop/"),
    ("threads (executor, gRPC poller)", "(threading.py"),
    ("logging/telemetry", "(structlog/"),
    ("logging/telemetry", "(opentelemetry/"),
    ("logging/telemetry", "(prometheus_client/"),
    ("logging/telemetry", "(logging/"),
    ("generated code (exec)", "(<string>"),
)


def _category(title: str) -> str:
    for name, needle in CATEGORIES:
        if needle in (title if needle.startswith("Handle") else title[title.find(" (") :]):
            return name
    return "other"


def self_time(svg: Path) -> tuple[int, list[tuple[str, int]]]:
    """(total samples, [(frame title, self samples)]) of one flame graph."""
    frames = [
        (html.unescape(m["title"]), float(m["y"]), int(m["x"]), int(m["w"])) for m in _FRAME.finditer(svg.read_text())
    ]
    if not frames:
        return 0, []
    root = max(frames, key=lambda f: f[3])
    levels = sorted({f[1] for f in frames}, reverse=root[1] > min(f[1] for f in frames))
    depth = {y: i for i, y in enumerate(levels)}
    by_depth: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for _title, y, x, w in frames:
        by_depth[depth[y]].append((x, w))
    out = []
    for title, y, x, w in frames:
        children = sum(cw for cx, cw in by_depth.get(depth[y] + 1, ()) if x <= cx and cx + cw <= x + w)
        out.append((title, w - children))
    return root[3], out


def summarize_svg(svg: Path, top: int = 12) -> list[str]:
    total, frames = self_time(svg)
    if not total:
        return ["(no samples)"]
    by_cat: Counter[str] = Counter()
    by_fn: Counter[str] = Counter()
    for title, samples in frames:
        name = re.sub(r" \([\d,]+ samples?, [0-9.]+%\)$", "", title)
        by_cat[_category(name)] += samples
        by_fn[name] += samples
    lines = [f"{total} samples; self time by component:"]
    lines += [f"  {100 * n / total:5.1f} %  {cat}" for cat, n in by_cat.most_common() if n]
    lines.append("functions with the most self time:")
    lines += [f"  {100 * n / total:5.1f} %  {fn[:150]}" for fn, n in by_fn.most_common(top) if n]
    return lines
