"""``python -m perf.datagen``: see the package docstring."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime

from perf.datagen import Options, load


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.datagen", description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000, help="orders to generate (default 100,000)")
    parser.add_argument("--postgres", required=True, help="admin URL of the PostgreSQL server (postgresql://...)")
    parser.add_argument("--database", help="database to create (default mes_gen_<orders>)")
    parser.add_argument("--replace", action="store_true", help="drop the database first if it exists")
    parser.add_argument("--partners", type=int, default=24, help="partners (20..24)")
    parser.add_argument("--days", type=float, default=90.0, help="days of history (default 90)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", type=datetime.fromisoformat, help="end of the history (ISO time, default now)")
    parser.add_argument("--summary", help="also write the JSON summary to this file")
    args = parser.parse_args()
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    options = Options(orders=args.orders, partners=args.partners, days=args.days, seed=args.seed, end=args.end)
    database = args.database or f"mes_gen_{args.orders}"
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    summary = asyncio.run(load(args.postgres, database, options, replace=args.replace, say=say))
    text = json.dumps({"database": database, **summary.as_dict()}, indent=2)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
