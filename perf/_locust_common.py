"""What the locust scenarios share: query files, credentials of the demo partners, GraphQL checks.

Imports nothing from locust or gevent, so it can be imported (and tested) anywhere.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["QUERIES", "graphql_error_code", "graphql_post", "partner_keys", "query", "retry_after_s"]

QUERIES = Path(__file__).resolve().parent / "queries"


def query(name: str) -> str:
    return (QUERIES / f"{name}.graphql").read_text(encoding="utf-8")


def partner_keys() -> list[str]:
    """``MES_API_KEY`` (comma-separated) or the keys ``mes up`` wrote to ``<MES_DATA_DIR>/demo-partners.json``."""
    given = [k.strip() for k in os.environ.get("MES_API_KEY", "").split(",") if k.strip()]
    if given:
        return given
    path = Path(os.environ.get("MES_DATA_DIR", "var")) / "demo-partners.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [str(p["api_key"]) for p in data["partners"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise SystemExit(f"no partner key: set MES_API_KEY or MES_DATA_DIR (looked for {path})") from None


def graphql_error_code(body: Any) -> str | None:
    """The first ``errors[].extensions.code`` of a GraphQL answer (None when there are no errors)."""
    if not isinstance(body, dict) or not body.get("errors"):
        return None
    first = body["errors"][0]
    code = first.get("extensions", {}).get("code") if isinstance(first, dict) else None
    return str(code or "ERROR")


def retry_after_s(value: str | None, *, cap_s: float = 10.0) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds), capped; 1 s when absent or odd."""
    try:
        return max(0.0, min(cap_s, float(value or 1)))
    except ValueError:
        return 1.0


def graphql_post(
    client: Any, name: str, document: str, operation: str, variables: dict[str, Any], *, throttled_waits: bool = False
) -> dict[str, Any]:
    """One GraphQL POST through a locust ``HttpSession``, recorded as ``name``; returns the answer.

    Not JSON, not HTTP 200, or GraphQL ``errors`` count as a failure (named by the error code).
    With ``throttled_waits``, an HTTP 429 is a failure named by its code and the user then waits
    ``Retry-After``, as a well-behaved client does.
    """
    body = {"query": document, "operationName": operation, "variables": variables}
    with client.post("/graphql", json=body, name=name, catch_response=True) as response:
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            response.failure(f"HTTP {response.status_code}, not JSON")
            return {}
        code = graphql_error_code(answer)
        if throttled_waits and response.status_code == 429:
            response.failure(code or "HTTP 429")
            time.sleep(retry_after_s(response.headers.get("Retry-After")))
        elif response.status_code != 200 or code is not None:
            response.failure(f"HTTP {response.status_code} {code or ''}".strip())
        return answer
