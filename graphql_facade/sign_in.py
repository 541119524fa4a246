"""``GET``/``POST /sign-in`` and ``POST /sign-out``: people on the floor sign in with their operator code
and password (no script, no external resource: the page is server-rendered with its own inline style).

* ``GET /sign-in[?next=/path]``: the form (labels, ``autocomplete`` for a password manager, errors in a
  ``role="alert"`` paragraph that screen readers announce, the fields marked ``aria-invalid``).
* ``POST /sign-in`` (``application/x-www-form-urlencoded``: ``operator_code``, ``password``, ``next``)
  from the facade's own origin: ``SignIn`` with the client's address; on success the ``mes_session``
  cookie and a 303 to ``next`` (a path of this site only, :func:`graphql_facade.sessions.safe_next`) or
  ``/``; a wrong code or password re-renders the form with 401, the service's limit of failed attempts
  429 with ``Retry-After``, a missing field 400, a service outage 503.
* ``POST /sign-out`` from the facade's own origin: ``SignOut``, the cookie cleared, a 303 to ``/sign-in``.

The token goes only into the ``Set-Cookie`` header: never into a URL, a log line or a page.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from clients import (
    InvalidArgumentError,
    MesClientError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
)
from graphql_facade.auth import session_cookie_of
from graphql_facade.errors import FacadeError
from graphql_facade.limits import ClientAddresses
from graphql_facade.runtime import Facade
from graphql_facade.sessions import (
    Sessions,
    check_same_origin,
    cleared_cookie,
    cookie_secure,
    own_origin,
    safe_next,
    session_cookie,
)
from mes_platform.telemetry.logs import get_logger

__all__ = ["sign_in_routes"]

_log = get_logger("mes.facade.sessions")
#: A sign-in form is a few short fields.
_MAX_FORM_BYTES = 8 * 1024
_FORM = "application/x-www-form-urlencoded"
_WRONG = "The operator code or password is not right."
_MISSING = "Enter your operator code and your password."
_UNAVAILABLE = "Signing in is not possible right now. Try again in a moment."
_DEFAULT_RETRY_S = 60

_STYLE = """
body{margin:0;font:18px/1.5 system-ui,sans-serif;background:#f4f1ea;color:#1d1d1d}
main{max-width:22rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{margin:0 0 1rem;font-size:1.6rem}
label{display:block;margin-top:1rem;font-weight:600}
input{box-sizing:border-box;width:100%;margin-top:.25rem;padding:.6rem;font:inherit;border:2px solid #6b6b6b;
border-radius:4px}
input:focus,button:focus{outline:3px solid #1a5fb4;outline-offset:2px}
input[aria-invalid=true]{border-color:#b00020}
button{margin-top:1.5rem;width:100%;padding:.75rem;font:inherit;font-weight:600;color:#fff;background:#1a5fb4;
border:0;border-radius:4px;cursor:pointer}
.error{margin:0 0 .5rem;padding:.75rem;color:#7a0016;background:#fde7ea;border-left:4px solid #b00020}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
#: What the page may do: its own inline style and posting its form here; nothing else, not in a frame.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; frame-ancestors 'none';"
        " base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Parts(Protocol):
    """Where the routes find the opened facade and its sessions (None while starting)."""

    @property
    def facade(self) -> Facade | None: ...

    @property
    def sessions(self) -> Sessions | None: ...


def page(*, next_path: str = "/", operator_code: str = "", error: str = "") -> str:
    """The sign-in page (every value escaped)."""
    invalid = ' aria-invalid="true" aria-describedby="sign-in-error"' if error else ""
    alert = f'<p id="sign-in-error" class="error" role="alert">{html.escape(error)}</p>\n' if error else ""
    title = "Sign-in failed" if error else "Sign in"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Jewelry MES</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>Sign in</h1>
{alert}<form method="post" action="/sign-in">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label for="operator_code">Operator code</label>
<input id="operator_code" name="operator_code" type="text" autocomplete="username" autocapitalize="characters"
 spellcheck="false" required maxlength="40" value="{html.escape(operator_code)}"{invalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{invalid}>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
"""


def _html(body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**_PAGE_HEADERS, **(headers or {})})


def _notice(title: str, message: str, status: int, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    body = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Jewelry MES</title><style>{_STYLE}</style></head>
<body><main><h1>{html.escape(title)}</h1>
<p class="error" role="alert">{html.escape(message)}</p>
<p><a href="/sign-in">Sign in</a></p></main></body>
</html>
"""
    return _html(body, status, headers)


def _own_origin(request: Request, facade: Facade) -> str | None:
    return own_origin(request.url.scheme, request.headers.get("host", ""), facade.settings.public_origin)


def _secure(request: Request, facade: Facade) -> bool:
    settings = facade.settings
    return cookie_secure(request.url.hostname or "", settings.session_cookie_secure, settings.public_origin)


async def _form(request: Request) -> dict[str, str] | None:
    """The fields of a urlencoded form of at most ``_MAX_FORM_BYTES`` (None: not such a form)."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != _FORM:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(10.0):
            async for chunk in request.stream():
                size += len(chunk)
                if size > _MAX_FORM_BYTES:
                    return None
                chunks.append(chunk)
        text = b"".join(chunks).decode()
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=10, strict_parsing=False)
    except (TimeoutError, UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items() if values}


def _retry_after(err: ResourceExhaustedError) -> int:
    raw = err.metadata.get("retry_after_s", "")
    return max(1, int(raw)) if raw.isdigit() else _DEFAULT_RETRY_S


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


class _Routes:
    def __init__(self, parts: Parts) -> None:
        self._parts = parts
        self._addresses: ClientAddresses | None = None

    def _opened(self) -> tuple[Facade, Sessions] | None:
        facade, sessions = self._parts.facade, self._parts.sessions
        if facade is None or sessions is None:
            return None
        return facade, sessions

    def _client_address(self, request: Request, facade: Facade) -> str:
        if self._addresses is None:
            self._addresses = ClientAddresses(facade.settings.trusted_proxies)
        return self._addresses.of(request.client.host if request.client else None, request.headers)

    async def show(self, request: Request) -> Response:
        return _html(page(next_path=safe_next(request.query_params.get("next"))))

    async def sign_in(self, request: Request) -> Response:
        opened = self._opened()
        if opened is None:
            return _notice("Sign in", _UNAVAILABLE, 503, {"Retry-After": "1"})
        facade, sessions = opened
        try:
            check_same_origin(request.headers, _own_origin(request, facade), "Signing in")
        except FacadeError as err:
            return _notice("Sign in", err.message, 403)
        form = await _form(request)
        if form is None:
            return _html(page(error=_MISSING), 400)
        next_path = safe_next(form.get("next"))
        code = form.get("operator_code", "").strip()
        password = form.get("password", "")
        if not code or not password:
            return _html(page(next_path=next_path, operator_code=code, error=_MISSING), 400)
        try:
            signed_in = await sessions.sign_in(code, password, self._client_address(request, facade))
        except ResourceExhaustedError as err:
            wait = _retry_after(err)
            _log.info("sign_in_throttled", operator=code, retry_after_s=wait)
            message = f"Too many failed attempts. Try again in {_wait_text(wait)}."
            body = page(next_path=next_path, operator_code=code, error=message)
            return _html(body, 429, {"Retry-After": str(wait)})
        except (UnauthenticatedError, PermissionDeniedError, NotFoundError, InvalidArgumentError):
            _log.info("sign_in_failed", operator=code)
            return _html(page(next_path=next_path, operator_code=code, error=_WRONG), 401)
        except MesClientError as err:
            _log.warning("sign_in_unavailable", code=err.code.name)
            body = page(next_path=next_path, operator_code=code, error=_UNAVAILABLE)
            return _html(body, 503, {"Retry-After": "1"})
        _log.info("signed_in", operator=signed_in.viewer.subject, role=signed_in.viewer.role)
        response = RedirectResponse(next_path, status_code=303, headers={"Cache-Control": "no-store"})
        response.headers.append(
            "set-cookie", session_cookie(signed_in.token, signed_in.max_age_s, secure=_secure(request, facade))
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        opened = self._opened()
        if opened is None:
            return _notice("Sign out", _UNAVAILABLE, 503, {"Retry-After": "1"})
        facade, sessions = opened
        token = session_cookie_of(request.headers)
        if token:
            try:
                check_same_origin(request.headers, _own_origin(request, facade), "Signing out")
            except FacadeError as err:
                return _notice("Sign out", err.message, 403)
            viewer = sessions.cached(token)
            try:
                await sessions.sign_out(token)
            except MesClientError as err:
                # This browser forgets the session all the same; it ends on the service at its expiry.
                _log.warning("sign_out_incomplete", code=err.code.name)
            else:
                _log.info("signed_out", operator=viewer.subject if viewer is not None else None)
        response = RedirectResponse("/sign-in", status_code=303, headers={"Cache-Control": "no-store"})
        response.headers.append("set-cookie", cleared_cookie(secure=_secure(request, facade)))
        return response


def sign_in_routes(parts: Parts) -> list[Route]:
    """The routes of signing in and out (``parts.facade`` once the facade has started)."""
    routes = _Routes(parts)
    return [
        Route("/sign-in", routes.show, methods=["GET"]),
        Route("/sign-in", routes.sign_in, methods=["POST"]),
        Route("/sign-out", routes.sign_out, methods=["POST"]),
    ]
