"""The baseline: a plain Starlette endpoint serving fixed JSON bytes, under the facade's uvicorn settings.

``python -m perf._baseline --port PORT --body FILE`` answers ``POST /graphql`` with the bytes
of FILE (read once) after reading the request body, and ``GET /healthz`` with 200. uvicorn
runs exactly as ``python -m graphql_facade`` runs it: httptools, uvloop, no access log,
lifespan on, no server header, one worker.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["create_app", "main", "serve"]


def create_app(body: bytes) -> Starlette:
    async def graphql(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])])


def serve(app: Starlette, host: str, port: int) -> None:
    """Serve ``app`` under the facade's uvicorn settings (also the direct-SQL baseline's)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    uvicorn.Server(config).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args()
    serve(create_app(args.body.read_bytes()), args.host, args.port)


if __name__ == "__main__":
    main()
