"""``python -m graphql_facade.watch``: the live watch is ``mesctl watch`` now; this runs it.

Same options, output and exit codes::

    python -m graphql_facade.watch --url http://127.0.0.1:8180/graphql --api-key mes_...
    mesctl watch --url http://127.0.0.1:8180/graphql --api-key mes_...
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from clients.cli.__main__ import main as mesctl

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``mesctl watch`` with ``argv`` (the command line by default); returns its exit code."""
    return mesctl(["watch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
