"""Operators sign in through the facade against the real production service over gRPC: the cookie reads
the floor, a supervisor's mutation is refused to an operator, sign-out ends the session and the same
cookie is refused afterwards."""

from __future__ import annotations

import httpx
import pytest

from clients import MesClients, UnauthenticatedError
from mes.production.v1 import production_pb2 as prod
from tests.integration.graphql_facade.conftest import facade_app
from tests.integration.graphql_facade.facade_stack import Stack

ORIGIN = "https://facade.test"
PASSWORD = "a long floor passphrase"
BOARD = {"query": "{ workCenters(first: 10) { nodes { code } } }"}
REVIEW = 'mutation { resolveLossReview(id: "wo-1.1", decision: APPROVE) { id } }'


async def test_sign_in_read_sign_out_and_refused_after(stack: Stack) -> None:
    async with MesClients(stack.client_config()) as mes:
        await mes.production.upsert_operator(
            prod.Operator(code="OP-2", display_name="Bea", role=prod.OPERATOR_ROLE_OPERATOR, active=True)
        )
        await mes.production.set_operator_password("operators/OP-2", password=PASSWORD)
    async with facade_app(stack.facade_settings()) as facade:
        http = facade.http
        http.base_url = httpx.URL(ORIGIN)
        wrong = await http.post(
            "/sign-in", data={"operator_code": "OP-2", "password": "not it at all"}, headers={"Origin": ORIGIN}
        )
        assert wrong.status_code == 401 and "mes_session" not in http.cookies

        signed_in = await http.post(
            "/sign-in",
            data={"operator_code": "OP-2", "password": PASSWORD, "next": "/board"},
            headers={"Origin": ORIGIN},
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/board"
        token = http.cookies.get("mes_session")
        assert token
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie

        board = await http.post("/graphql", json=BOARD, headers={"Origin": ORIGIN})
        assert board.status_code == 200, board.text
        codes = {node["code"] for node in board.json()["data"]["workCenters"]["nodes"]}
        assert {"CAST-1", "QC-1"} <= codes
        sessions = facade.facade.authenticator.sessions
        viewer = sessions.cached(token) if sessions is not None else None
        assert viewer is not None and (viewer.subject, viewer.role) == ("OP-2", "OPERATOR")

        forbidden = await http.post("/graphql", json={"query": REVIEW}, headers={"Origin": ORIGIN})
        assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        cross_site = await http.post("/graphql", json=BOARD, headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403

        signed_out = await http.post("/sign-out", headers={"Origin": ORIGIN})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/sign-in"
        assert "mes_session" not in http.cookies
        after = await http.post("/graphql", json=BOARD, headers={"Origin": ORIGIN, "Cookie": f"mes_session={token}"})
        assert after.status_code == 401
        assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # The service itself holds the session as ended (not just this facade's cache).
    async with MesClients(stack.client_config()) as mes:
        with pytest.raises(UnauthenticatedError) as closed:
            await mes.production.check_session(token)
    assert closed.value.reason == "SESSION_CLOSED"
