"""Operators sign in on the floor: passwords, sessions, sign-out, and the limit of failed attempts.

The web app signs operators and supervisors in with a session; it calls these use cases with
its own (service) credentials, and the operator's code and password. Every failure of a
sign-in answers the same UNAUTHENTICATED, after the same scrypt work; failed attempts are
stored (so the limit holds across replicas) and, beyond the limit, refused before any hashing
with RESOURCE_EXHAUSTED and how long to wait (``retry_after_s``). Hashing runs in a worker
thread (``asyncio.to_thread``) so a sign-in never stalls the event loop. A session is checked
with one lookup by its token's hash on the writer (a write unit of work that writes nothing),
never on a read replica: a session just opened is found at once, and one signed out, or whose
operator was disabled or got a new password, is refused at once, whatever a replica's lag. It is
open until it expires (a fixed time after the sign-in), is signed out, or its operator is disabled
or gets a new password.

Every sign-in, failed one, refusal, sign-out and password change is an audit log line with the
operator code and the client's address, never the password or the token.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from mes_kernel.errors import PermissionDenied, Unauthenticated
from mes_kernel.principal import Principal, require_staff
from services.production.domain.people import (
    DEFAULT_SESSION_TTL,
    MAX_PASSWORD_LENGTH,
    Credential,
    Session,
    SignInFailure,
    SignInLimits,
    hash_password,
    hash_token,
    new_session_token,
    sign_in_refused,
    throttled,
    validate_password,
    verify_password,
)
from services.production.domain.resources import Operator
from services.production.service_layer.common import DEFAULT_ATTEMPTS, UseCases, found
from services.production.service_layer.ports import ProductionDeps, UnitOfWork

__all__ = [
    "AuditLog",
    "CheckSession",
    "OpenSession",
    "SetOperatorPassword",
    "SignIn",
    "SignInHandlers",
    "SignOut",
    "SignedIn",
]

_log = logging.getLogger("mes.production.sign_in")
#: 5 failures per operator code, 20 per client address, in 15 minutes.
_LIMITS = SignInLimits()
#: Longest session token looked up (``secrets.token_urlsafe(32)`` makes 43 characters).
_MAX_TOKEN_LENGTH = 256


class AuditLog(Protocol):
    """Where the audit lines go: ``audit("sign_in_failed", operator_code=..., ...)`` (a structlog
    logger's ``info`` in the service)."""

    def __call__(self, event: str, /, **fields: Any) -> Any: ...


def _stdlib_audit(event: str, /, **fields: Any) -> None:
    _log.info("%s %s", event, " ".join(f"{key}={value}" for key, value in fields.items()))


# -- commands and results -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetOperatorPassword:
    principal: Principal
    operator_code: str
    password: str

    def __repr__(self) -> str:  # never the password
        return f"SetOperatorPassword(principal={self.principal!r}, operator_code={self.operator_code!r})"


@dataclass(frozen=True, slots=True)
class SignIn:
    principal: Principal
    operator_code: str
    password: str
    client_address: str = ""

    def __repr__(self) -> str:  # never the password
        return f"SignIn(operator_code={self.operator_code!r}, client_address={self.client_address!r})"


@dataclass(frozen=True, slots=True)
class _BySessionToken:
    """A request about the session whose token it carries."""

    principal: Principal
    session_token: str

    def __repr__(self) -> str:  # never the token
        return f"{type(self).__name__}(...)"


@dataclass(frozen=True, slots=True, repr=False)
class CheckSession(_BySessionToken):
    """Is the session of this token open, and whose is it?"""


@dataclass(frozen=True, slots=True, repr=False)
class SignOut(_BySessionToken):
    """End the session of this token."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: its token (shown only now), the operator and when it expires."""

    session_token: str
    operator: Operator
    expire_time: datetime


@dataclass(frozen=True, slots=True)
class OpenSession:
    operator: Operator
    expire_time: datetime


def _session_closed() -> Unauthenticated:
    return Unauthenticated("the session is not open (unknown, expired or signed out)", reason="SESSION_CLOSED")


def _why_refused(operator: Operator | None, credential: Credential | None) -> str:
    """What failed, for the audit line only (the caller always gets the same answer)."""
    if operator is None:
        return "unknown operator"
    if not operator.active:
        return "disabled"
    return "no password" if credential is None else "wrong password"


def _may_set_password(principal: Principal, operator_code: str) -> None:
    """Services set any operator's password; an operator's own token only their own."""
    require_staff(principal)
    if principal.kind == "operator" and principal.subject != operator_code:
        raise PermissionDenied("an operator may only set their own password")


class SignInHandlers(UseCases):
    def __init__(
        self,
        deps: ProductionDeps,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        session_ttl: timedelta = DEFAULT_SESSION_TTL,
        limits: SignInLimits = _LIMITS,
        audit: AuditLog | None = None,
    ) -> None:
        super().__init__(deps, attempts=attempts)
        self._ttl = session_ttl
        self._limits = limits
        self._audit: AuditLog = audit or _stdlib_audit

    async def set_operator_password(self, cmd: SetOperatorPassword) -> Operator:
        """Store a new salted hash of the password and end the operator's open sessions."""
        _may_set_password(cmd.principal, cmd.operator_code)
        validate_password(cmd.password)
        async with self._uows.read() as uow:  # before the hashing: no CPU spent on unknown operators
            found(await uow.operators.get(cmd.operator_code), f"operator {cmd.operator_code}")
        encoded = (await asyncio.to_thread(hash_password, cmd.password)).encode()
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> tuple[Operator, int]:
            operator = found(await uow.operators.get(cmd.operator_code), f"operator {cmd.operator_code}")
            await uow.credentials.save(Credential(operator.code, encoded, now))
            return operator, await uow.sessions.end_all(operator.code, now)

        operator, ended = await self._write(tx)
        self._audit("operator_password_set", operator_code=operator.code, by=cmd.principal.label, sessions_ended=ended)
        return operator

    async def sign_in(self, cmd: SignIn) -> SignedIn:
        """A new session for the operator, if the code and password match, the operator is active
        and the limits of failed attempts are not reached."""
        require_staff(cmd.principal)
        now = self._deps.clock()
        code, address = cmd.operator_code, cmd.client_address
        failure = SignInFailure.of(code, address, now)
        since, limits = now - self._limits.window, self._limits
        async with self._uows.read() as uow:
            by_code = await uow.sign_in_failures.latest(since, limits.per_operator, operator_code=failure.operator_code)
            by_address = await uow.sign_in_failures.latest(
                since, limits.per_address, client_address=failure.client_address
            )
            wait = limits.retry_after_s(now, by_code, by_address)
            if wait:
                self._audit("sign_in_throttled", operator_code=code, client_address=address, retry_after_s=wait)
                raise throttled(wait)
            # Both reads whatever the first finds: the same work for a code that does not exist.
            operator = await uow.operators.get(code) if code else None
            credential = await uow.credentials.get(code) if code else None
        stored = credential.password_hash if credential is not None else None
        matches = len(cmd.password) <= MAX_PASSWORD_LENGTH and await asyncio.to_thread(
            verify_password, cmd.password, stored
        )
        if operator is None or not operator.active or not matches:
            await self._write(lambda uow: self._record_failure(uow, failure, since))
            reason = _why_refused(operator, credential)
            self._audit("sign_in_failed", operator_code=code, client_address=address, reason=reason)
            raise sign_in_refused()
        token = new_session_token()
        session = Session(hash_token(token), operator.code, now, now + self._ttl, None, failure.client_address)

        async def open_session(uow: UnitOfWork) -> None:
            await uow.sessions.prune(now)
            await uow.sessions.add(session)

        await self._write(open_session)
        self._audit("sign_in", operator_code=operator.code, client_address=address)
        return SignedIn(token, operator, session.expire_time)

    async def _record_failure(self, uow: UnitOfWork, failure: SignInFailure, since: datetime) -> None:
        await uow.sign_in_failures.prune(since)
        await uow.sign_in_failures.add(failure)

    async def check_session(self, query: CheckSession) -> OpenSession:
        """The operator of an open session: not expired, not signed out, the operator active."""
        require_staff(query.principal)
        if not query.session_token or len(query.session_token) > _MAX_TOKEN_LENGTH:
            raise _session_closed()
        now = self._deps.clock()
        token_hash = hash_token(query.session_token)
        # On the writer (a unit of work that writes nothing): a replica may not have the sign-in or sign-out yet.
        found_session = await self._write(lambda uow: uow.sessions.find(token_hash))
        if found_session is None:
            raise _session_closed()
        session, operator = found_session
        if not session.is_open(now) or not operator.active:
            raise _session_closed()
        return OpenSession(operator, session.expire_time)

    async def sign_out(self, cmd: SignOut) -> None:
        """End the session; an ended, expired or unknown one answers the same."""
        require_staff(cmd.principal)
        if not cmd.session_token or len(cmd.session_token) > _MAX_TOKEN_LENGTH:
            return
        now = self._deps.clock()
        token_hash = hash_token(cmd.session_token)

        async def tx(uow: UnitOfWork) -> str | None:
            found_session = await uow.sessions.find(token_hash)
            if found_session is None or not await uow.sessions.end(token_hash, now):
                return None
            return found_session[0].operator_code

        operator_code = await self._write(tx)
        if operator_code is not None:
            self._audit("sign_out", operator_code=operator_code)
