"""The direct-SQL baseline of the board: plain Starlette + asyncpg, ONE SQL statement that builds
the whole answer of ``queries/board.graphql`` in PostgreSQL (``json_build_object``/``json_agg``
over the orders and production schemas, on their own indexes).

    python -m perf._sqlboard --port PORT --dsn postgresql://postgres@127.0.0.1:5432/<db> [--pool 10]

It is a yardstick, not a service: it reads two services' schemas (as the admin role), knows
only this one document (``first`` from the request's variables, default 100), and checks no
credentials. uvicorn runs as the facade runs it (httptools, uvloop, one worker, no access
log). The bench checks that its answer is JSON-equal to the facade's before measuring.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perf._baseline import serve

__all__ = ["APPLICATION_NAME", "BOARD_SQL", "create_app", "main"]

APPLICATION_NAME = "mes-sql-baseline"

_ISO = """to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_part('microseconds', {t})::bigint % 1000000 = 0 THEN ''
            ELSE to_char({t} AT TIME ZONE 'UTC', '.US') END || '+00:00'"""

#: The board (queries/board.graphql) as one statement; $1 = first.
BOARD_SQL = f"""
SELECT json_build_object('data', json_build_object('orders', json_build_object('edges',
    coalesce(json_agg(json_build_object('node', json_build_object(
        'id', o.order_id,
        'partnerId', o.partner_id,
        'partnerReference', o.partner_reference,
        'status', o.status,
        'priority', o.priority,
        'dueTime', {_ISO.format(t="o.due_time")},
        'lines', (SELECT coalesce(json_agg(json_build_object(
                      'styleCode', l.style_code, 'alloyCode', l.alloy_code, 'size', l.size, 'quantity', l.quantity)
                      ORDER BY l.line_number), '[]'::json)
                  FROM orders.order_lines l WHERE l.order_id = o.order_id),
        'workOrders', (SELECT coalesce(json_agg(json_build_object('id', w.id, 'status', w.status)
                           ORDER BY w.line_number), '[]'::json)
                       FROM production.work_orders w WHERE w.order_id = o.order_id)
    )) ORDER BY o.created_at DESC, o.order_id DESC), '[]'::json))))::text
FROM (SELECT * FROM orders.orders ORDER BY created_at DESC, order_id DESC LIMIT $1) AS o
"""


def create_app(dsn: str, pool_size: int) -> Starlette:
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            dsn, min_size=pool_size, max_size=pool_size, server_settings={"application_name": APPLICATION_NAME}
        )
        try:
            yield
        finally:
            await state["pool"].close()

    async def graphql(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        first = int((body.get("variables") or {}).get("first") or 100)
        answer: str = await state["pool"].fetchval(BOARD_SQL, first)
        return Response(answer.encode(), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    routes = [Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--pool", type=int, default=10)
    args = parser.parse_args()
    serve(create_app(args.dsn, args.pool), args.host, args.port)


if __name__ == "__main__":
    main()
