"""In-memory repositories of signing in: passwords, sessions and failed attempts (on ``FakeState``)."""

from __future__ import annotations

import copy
from datetime import datetime

from mes_kernel.uow import WriteConflict
from services.production.domain.people import Credential, Session, SignInFailure
from services.production.domain.resources import Operator
from tests.unit.production._fake_repositories import FakeRepository

__all__ = ["FakeCredentialRepository", "FakeSessionRepository", "FakeSignInFailureRepository"]


class FakeCredentialRepository(FakeRepository):
    async def get(self, operator_code: str) -> Credential | None:
        return copy.deepcopy(self._state.credentials.get(operator_code))

    async def save(self, credential: Credential) -> None:
        if credential.operator_code not in self._state.operators:
            raise WriteConflict(f"no operator {credential.operator_code!r}")  # the foreign key
        self._state.credentials[credential.operator_code] = copy.deepcopy(credential)


class FakeSessionRepository(FakeRepository):
    async def add(self, session: Session) -> None:
        if session.token_hash in self._state.sessions or session.operator_code not in self._state.operators:
            raise WriteConflict(f"cannot insert session of {session.operator_code!r}")
        self._state.sessions[session.token_hash] = copy.deepcopy(session)

    async def find(self, token_hash: str) -> tuple[Session, Operator] | None:
        session = self._state.sessions.get(token_hash)
        if session is None:
            return None
        return copy.deepcopy(session), copy.deepcopy(self._state.operators[session.operator_code])

    async def end(self, token_hash: str, now: datetime) -> bool:
        session = self._state.sessions.get(token_hash)
        if session is None or session.end_time is not None:
            return False
        session.end_time = now
        return True

    async def end_all(self, operator_code: str, now: datetime) -> int:
        ended = 0
        for session in self._state.sessions.values():
            if session.operator_code == operator_code and session.end_time is None:
                session.end_time, ended = now, ended + 1
        return ended

    async def prune(self, expired_before: datetime) -> int:
        gone = [h for h, s in self._state.sessions.items() if s.expire_time < expired_before]
        for token_hash in gone:
            del self._state.sessions[token_hash]
        return len(gone)


class FakeSignInFailureRepository(FakeRepository):
    async def add(self, failure: SignInFailure) -> None:
        self._state.sign_in_failures.append(failure)

    async def latest(
        self, since: datetime, limit: int, *, operator_code: str | None = None, client_address: str | None = None
    ) -> list[datetime]:
        if (operator_code is None) == (client_address is None):
            raise ValueError("give either operator_code or client_address")
        times = [
            f.time
            for f in self._state.sign_in_failures
            if f.time > since
            and (f.operator_code == operator_code if operator_code is not None else f.client_address == client_address)
        ]
        return sorted(times, reverse=True)[:limit]

    async def prune(self, before: datetime) -> int:
        kept = [f for f in self._state.sign_in_failures if f.time >= before]
        pruned = len(self._state.sign_in_failures) - len(kept)
        self._state.sign_in_failures[:] = kept
        return pruned
