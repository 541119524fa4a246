"""Signatures per Standard Webhooks, checked with the ``standardwebhooks`` reference package."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks.domain.signing import is_valid_secret, new_secret, secret_key, signature, signature_header

BODY = '{"type":"order.status_changed","data":{"partnerReference":"Ringe für Anna"}}'.encode()


def _headers(msg_id: str, timestamp: int, signature_value: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature_value}


def test_a_signature_verifies_with_the_reference_package() -> None:
    secret = new_secret()
    now = int(time.time())
    header = signature_header([secret], "msg_1", now, BODY)
    assert header.startswith("v1,") and " " not in header
    assert Webhook(secret).verify(BODY, _headers("msg_1", now, header))["data"]["partnerReference"] == "Ringe für Anna"


def test_the_signature_matches_the_reference_signer() -> None:
    from datetime import UTC, datetime

    secret = new_secret()
    moment = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    expected = Webhook(secret).sign("msg_2", moment, BODY.decode())
    assert signature(secret, "msg_2", int(moment.timestamp()), BODY) == expected


def test_during_an_overlap_either_secret_verifies_the_same_message() -> None:
    old, new = new_secret(), new_secret()
    now = int(time.time())
    header = signature_header([new, old], "msg_3", now, BODY)
    assert len(header.split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, _headers("msg_3", now, header))
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, _headers("msg_3", now, header))


@pytest.mark.parametrize("change", ["body", "id", "timestamp"])
def test_a_changed_body_id_or_timestamp_fails_verification(change: str) -> None:
    secret = new_secret()
    now = int(time.time())
    header = signature_header([secret], "msg_4", now, BODY)
    body, msg_id, stamp = BODY, "msg_4", now
    if change == "body":
        body = BODY.replace(b"Anna", b"Olga")
    elif change == "id":
        msg_id = "msg_5"
    else:
        stamp = now + 1
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, _headers(msg_id, stamp, header))


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_") and len(secret_key(secret)) == 32 and is_valid_secret(secret)
    short = "whsec_" + base64.b64encode(b"x" * 10).decode()
    assert not is_valid_secret(short) and not is_valid_secret("sk_abc") and not is_valid_secret("whsec_!!")
    with pytest.raises(ValueError):
        signature_header([], "msg", 1, BODY)
