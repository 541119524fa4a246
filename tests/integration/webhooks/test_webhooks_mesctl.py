"""``mesctl webhooks`` against the service with its consumer and dispatcher: an operator registers
an endpoint for a partner, follows its deliveries and log, and replays its dead letters."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from clients.cli.__main__ import run
from tests.integration.webhooks._orders import OrderEvents
from tests.integration.webhooks._receiver import Receiver
from tests.integration.webhooks._support import Running, eventually


async def _mesctl(webhooks: Running, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    address = f"127.0.0.1:{webhooks.service.port}"
    code = await run(["--webhooks-addr", address, "--token", "wh-op", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def _json(webhooks: Running, *argv: str) -> Any:
    code, out, err = await _mesctl(webhooks, "-o", "json", *argv)
    assert code == 0, err
    return json.loads(out)


async def test_an_operator_manages_endpoints_and_replays_dead_letters(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_RETRY_FOR_S="0.3")
    code, out, _ = await _mesctl(webhooks, "webhooks", "endpoints", "create", "acme", "--url", receiver.url("/a"))
    assert code == 0 and "shown only once: store it now" in out
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("secret:"))
    endpoint = next(line.split()[1] for line in out.splitlines() if line.startswith("name:"))
    endpoint_id = endpoint.split("/")[1]
    route = receiver.route("/a", [secret], status=500)

    listed = await _json(webhooks, "webhooks", "endpoints", "list", "--partner-id", "acme")
    assert [e["endpoint_id"] for e in listed] == [endpoint_id]
    code, out, _ = await _mesctl(webhooks, "webhooks", "endpoints", "get", endpoint_id)
    assert code == 0 and receiver.url("/a") in out and "whsec_" not in out

    await orders.lifecycle(str(uuid.uuid4()), "acme", "PO-1", steps=2)

    async def dead() -> list[Any]:
        found = await _json(webhooks, "webhooks", "dead-letters", "list", endpoint_id)
        return found if len(found) == 2 else []

    letters = await eventually(dead, what="two dead letters")
    assert {d["state"] for d in letters} == {"WEBHOOK_DELIVERY_STATE_DEAD"}
    code, out, _ = await _mesctl(webhooks, "webhooks", "deliveries", "log", endpoint_id)
    assert code == 0 and "HTTP 500" in out and "DEAD_LETTER" in out

    route.status = 200
    replayed = await _json(webhooks, "webhooks", "dead-letters", "replay", endpoint_id, letters[0]["delivery_id"])
    assert replayed["names"] == [letters[0]["name"]]
    code, out, _ = await _mesctl(webhooks, "webhooks", "dead-letters", "replay", endpoint_id)
    assert code == 0 and out.startswith("replayed 1 dead letters")

    async def delivered() -> list[Any]:
        found = await _json(webhooks, "webhooks", "deliveries", "list", endpoint_id, "--state", "delivered")
        return found if len(found) == 2 else []

    await eventually(delivered, what="both deliveries DELIVERED after the replay")
    assert {d.webhook_id for d in route.processed} == {d["delivery_id"] for d in letters}
    disabled = await _json(webhooks, "webhooks", "endpoints", "disable", endpoint_id, "--reason", "maintenance")
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "maintenance"
    enabled = await _json(webhooks, "webhooks", "endpoints", "enable", endpoint_id)
    assert enabled["endpoint"]["enabled"] is True
    rotated = await _json(webhooks, "webhooks", "endpoints", "rotate-secret", endpoint_id)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    updated = await _json(webhooks, "webhooks", "endpoints", "update", endpoint_id, "--description", "feed")
    assert updated["description"] == "feed"
    code, out, _ = await _mesctl(webhooks, "webhooks", "endpoints", "delete", endpoint_id)
    assert code == 0 and out.strip() == f"deleted {endpoint}"
    code, _, err = await _mesctl(webhooks, "webhooks", "endpoints", "get", endpoint_id)
    assert code == 1 and err.startswith("error: NOT_FOUND")


async def test_a_bad_url_is_a_usage_answer_with_the_reason(make_webhooks) -> None:
    webhooks: Running = await make_webhooks(MES_DEV_MODE="0")
    code, _, err = await _mesctl(webhooks, "webhooks", "endpoints", "create", "acme", "--url", "http://127.0.0.1/x")
    assert code == 1
    assert err.splitlines() == [
        "error: INVALID_ARGUMENT INVALID_ARGUMENT: the request has invalid fields",
        "  url: must be an https:// URL",
    ]
