"""Child process of the atomicity tests: its own event loop and Redis pool, N concurrent calls.

Usage: python _limits_redis_worker.py URL bucket|rate PREFIX KEY CALLS PARTIES BARRIER_KEY
Waits until PARTIES workers have checked in on BARRIER_KEY, fires CALLS concurrent calls at KEY
and prints the list of "allowed" flags as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from redis.asyncio import Redis

from graphql_facade.limits import Limits, RedisCostBucket, RedisRateLimiter

#: 10 admissions of cost 10 fit; the refill during the test is negligible (0.001 point/s).
BUCKET_LIMITS = Limits(max_cost=10, bucket_capacity=100, restore_rate=0.001)
RATE_LIMIT, RATE_WINDOW_S = 10, 3600.0


async def main(url: str, kind: str, prefix: str, key: str, calls: int, parties: int, barrier: str) -> list[bool]:
    redis = Redis.from_url(url)
    try:
        # Barrier: the last worker to check in releases everyone at once.
        if await redis.incr(barrier) == parties:
            await redis.rpush(barrier + ":go", *["go"] * parties)
        if await redis.blpop([barrier + ":go"], timeout=30) is None:
            raise TimeoutError("the other workers did not start")
        if kind == "bucket":
            bucket = RedisCostBucket(redis, prefix=prefix, fail_open=False)
            states = await asyncio.gather(*(bucket.take(key, 10, BUCKET_LIMITS) for _ in range(calls)))
            return [s.allowed for s in states]
        limiter = RedisRateLimiter(redis, prefix=prefix, fail_open=False)
        rates = await asyncio.gather(*(limiter.hit(key, RATE_LIMIT, RATE_WINDOW_S) for _ in range(calls)))
        return [r.allowed for r in rates]
    finally:
        await redis.aclose()


if __name__ == "__main__":
    url, kind, prefix, key, calls, parties, barrier = sys.argv[1:8]
    print(json.dumps(asyncio.run(main(url, kind, prefix, key, int(calls), int(parties), barrier))))
