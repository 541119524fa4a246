"""Signing in on the fakes: passwords stored as salted scrypt hashes, one answer for every failed
sign-in, sessions that end (expiry, sign-out, a disabled operator, a new password), and the limit of
failed attempts per operator code and per client address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mes_kernel.deps import Deps
from mes_kernel.errors import InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, Unauthenticated
from mes_kernel.paging import PageTokens
from mes_kernel.principal import Principal
from services.production.config import Settings
from services.production.domain.people import (
    PasswordHash,
    ScryptParams,
    SignInLimits,
    hash_password,
    hash_token,
    validate_password,
    verify_password,
)
from services.production.domain.resources import OperatorRole
from services.production.service_layer.commands import UpsertOperator
from services.production.service_layer.sign_in import (
    CheckSession,
    SetOperatorPassword,
    SignedIn,
    SignIn,
    SignInHandlers,
    SignOut,
)
from tests.unit.production._factories import NOW
from tests.unit.production._floor import OPERATOR_1, PARTNER, STAFF, Floor

PASSWORD = "correct horse battery"
ADDRESS = "ipv4:10.0.0.7:51000"


class Audit:
    """The audit lines a use case wrote: (event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, /, **fields: Any) -> None:
        self.lines.append((event, fields))

    def events(self) -> list[str]:
        return [event for event, _ in self.lines]


@pytest.fixture
def audit() -> Audit:
    return Audit()


@pytest.fixture
def people(floor: Floor, audit: Audit) -> SignInHandlers:
    """The sign-in use cases on the seeded floor (OP-1, OP-2, SUP-1 active; OP-OLD disabled)."""
    deps = Deps(floor.uows, PageTokens(b"unit-test"), clock=floor.clock)
    return SignInHandlers(deps, session_ttl=timedelta(hours=12), audit=audit)  # type: ignore[arg-type]


async def _set(people: SignInHandlers, code: str = "OP-1", password: str = PASSWORD) -> None:
    await people.set_operator_password(SetOperatorPassword(STAFF, code, password))


async def _sign_in(
    people: SignInHandlers, code: str = "OP-1", password: str = PASSWORD, address: str = ADDRESS
) -> SignedIn:
    return await people.sign_in(SignIn(STAFF, code, password, address))


async def _refused(people: SignInHandlers, code: str, password: str = PASSWORD, address: str = ADDRESS) -> str:
    """The message of a refused sign-in (it must be UNAUTHENTICATED SIGN_IN_FAILED)."""
    with pytest.raises(Unauthenticated) as err:
        await _sign_in(people, code, password, address)
    assert err.value.reason == "SIGN_IN_FAILED"
    return err.value.message


async def _is_closed(people: SignInHandlers, token: str) -> None:
    with pytest.raises(Unauthenticated) as err:
        await people.check_session(CheckSession(STAFF, token))
    assert err.value.reason == "SESSION_CLOSED"


# -- the domain: hashes and tokens -----------------------------------------------------


def test_a_hash_keeps_its_parameters_and_a_random_salt() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.salt != second.salt and first.key != second.key
    encoded = first.encode()
    assert encoded.startswith("scrypt$16384$8$1$") and PASSWORD not in encoded
    assert (len(first.salt), len(first.key)) == (16, 32)
    assert PasswordHash.decode(encoded) == first
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "!", encoded)


def test_a_hash_made_with_other_parameters_still_verifies() -> None:
    older = hash_password(PASSWORD, ScryptParams(n=2**10, r=4, p=1, salt_bytes=8, key_bytes=24)).encode()
    assert older.startswith("scrypt$1024$4$1$")
    assert verify_password(PASSWORD, older) and not verify_password("another password", older)


@pytest.mark.parametrize("stored", [None, "", "md5$abc", "scrypt$3$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$??"])
def test_nothing_or_an_unreadable_hash_never_verifies(stored: str | None) -> None:
    assert not verify_password(PASSWORD, stored)


def test_passwords_are_12_to_1024_characters() -> None:
    validate_password("x" * 12)
    validate_password("x" * 1024)
    for bad in ("", "x" * 11, "x" * 1025):
        with pytest.raises(InvalidArgument) as err:
            validate_password(bad)
        assert err.value.violations[0].field == "password"


def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window() -> None:
    limits = SignInLimits(per_operator=2, per_address=3, window=timedelta(minutes=15))
    now = NOW
    one = [now - timedelta(minutes=1)]
    two = [now - timedelta(minutes=1), now - timedelta(minutes=10)]
    assert limits.retry_after_s(now, one, one) == 0
    assert limits.retry_after_s(now, two, one) == 5 * 60
    three = [now - timedelta(seconds=s) for s in (1, 2, 899.5)]
    assert limits.retry_after_s(now, [], three) == 1  # never 0 while refused


# -- passwords -------------------------------------------------------------------------


async def test_setting_a_password_stores_only_a_salted_hash(floor: Floor, people: SignInHandlers, audit: Audit) -> None:
    operator = await people.set_operator_password(SetOperatorPassword(STAFF, "OP-1", PASSWORD))
    assert operator.code == "OP-1"
    stored = floor.uows.state.credentials["OP-1"]
    assert stored.password_hash.startswith("scrypt$") and PASSWORD not in stored.password_hash
    assert verify_password(PASSWORD, stored.password_hash)
    assert stored.set_time == floor.clock.now
    assert audit.lines == [
        ("operator_password_set", {"operator_code": "OP-1", "by": "service:test", "sessions_ended": 0})
    ]


async def test_a_password_needs_a_known_operator_and_a_valid_length(floor: Floor, people: SignInHandlers) -> None:
    with pytest.raises(NotFound):
        await _set(people, "NOBODY")
    with pytest.raises(InvalidArgument):
        await _set(people, "OP-1", "short")
    with pytest.raises(InvalidArgument):
        await _set(people, "OP-1", "x" * 1025)
    assert floor.uows.state.credentials == {}


async def test_an_operator_sets_only_their_own_password_and_partners_none(people: SignInHandlers) -> None:
    await people.set_operator_password(SetOperatorPassword(OPERATOR_1, "OP-1", PASSWORD))
    with pytest.raises(PermissionDenied):
        await people.set_operator_password(SetOperatorPassword(OPERATOR_1, "OP-2", PASSWORD))
    with pytest.raises(PermissionDenied):
        await people.set_operator_password(SetOperatorPassword(PARTNER, "OP-1", PASSWORD))
    with pytest.raises(PermissionDenied):
        await people.sign_in(SignIn(PARTNER, "OP-1", PASSWORD, ADDRESS))


# -- signing in ------------------------------------------------------------------------


async def test_a_sign_in_opens_a_session_stored_by_its_hash(floor: Floor, people: SignInHandlers, audit: Audit) -> None:
    await _set(people)
    signed_in = await _sign_in(people)
    assert signed_in.operator.code == "OP-1"
    assert signed_in.expire_time == floor.clock.now + timedelta(hours=12)
    assert len(signed_in.session_token) >= 43
    [stored] = floor.uows.state.sessions.values()
    assert stored.token_hash == hash_token(signed_in.session_token) != signed_in.session_token
    assert (stored.operator_code, stored.client_address, stored.end_time) == ("OP-1", ADDRESS, None)
    checked = await people.check_session(CheckSession(STAFF, signed_in.session_token))
    assert (checked.operator.code, checked.expire_time) == ("OP-1", signed_in.expire_time)
    assert audit.lines[-1] == ("sign_in", {"operator_code": "OP-1", "client_address": ADDRESS})
    assert not any(PASSWORD in repr(fields) or signed_in.session_token in repr(fields) for _, fields in audit.lines)


async def test_every_failure_answers_the_same(floor: Floor, people: SignInHandlers, audit: Audit) -> None:
    await _set(people, "OP-1")
    await _set(people, "OP-OLD")  # disabled, with a password
    messages = {
        await _refused(people, "OP-1", "wrong password!"),
        await _refused(people, "NOBODY"),
        await _refused(people, "OP-OLD"),  # the right password, but disabled
        await _refused(people, "OP-2"),  # no password set
        await _refused(people, "OP-1", "x" * 5000),
        await _refused(people, ""),
    }
    assert messages == {"operator code or password is wrong"}
    reasons = [fields["reason"] for event, fields in audit.lines if event == "sign_in_failed"]
    assert reasons == [
        "wrong password",
        "unknown operator",
        "disabled",
        "no password",
        "wrong password",
        "unknown operator",
    ]
    assert not any(PASSWORD in repr(fields) for _, fields in audit.lines)
    assert floor.uows.state.sessions == {}
    assert len(floor.uows.state.sign_in_failures) == 6


# -- sessions --------------------------------------------------------------------------


async def test_a_session_expires_after_its_time(floor: Floor, people: SignInHandlers) -> None:
    await _set(people)
    token = (await _sign_in(people)).session_token
    floor.clock.tick(12 * 60 - 1)
    await people.check_session(CheckSession(STAFF, token))
    floor.clock.tick(1)
    await _is_closed(people, token)


async def test_sign_out_ends_the_session_and_may_be_repeated(
    floor: Floor, people: SignInHandlers, audit: Audit
) -> None:
    await _set(people)
    token = (await _sign_in(people)).session_token
    other = (await _sign_in(people)).session_token
    await people.sign_out(SignOut(STAFF, token))
    await _is_closed(people, token)
    await people.check_session(CheckSession(STAFF, other))  # the operator's other session stays open
    await people.sign_out(SignOut(STAFF, token))  # again
    await people.sign_out(SignOut(STAFF, "no-such-session"))
    await people.sign_out(SignOut(STAFF, ""))
    assert audit.events().count("sign_out") == 1
    for unknown in ("", "no-such-session", "x" * 300):
        await _is_closed(people, unknown)


async def test_disabling_the_operator_closes_their_sessions_at_once(floor: Floor, people: SignInHandlers) -> None:
    await _set(people)
    token = (await _sign_in(people)).session_token
    await floor.handlers.catalog.upsert_operator(UpsertOperator(STAFF, "OP-1", "OP-1", OperatorRole.OPERATOR, False))
    await _is_closed(people, token)
    await floor.handlers.catalog.upsert_operator(UpsertOperator(STAFF, "OP-1", "OP-1", OperatorRole.OPERATOR, True))
    await people.check_session(CheckSession(STAFF, token))  # enabled again, the session had not expired


async def test_a_new_password_ends_the_operators_open_sessions(
    floor: Floor, people: SignInHandlers, audit: Audit
) -> None:
    await _set(people, "OP-1")
    await _set(people, "OP-2")
    mine = [(await _sign_in(people)).session_token for _ in range(2)]
    theirs = (await _sign_in(people, "OP-2")).session_token
    await _set(people, "OP-1", "a brand new passphrase")
    for token in mine:
        await _is_closed(people, token)
    await people.check_session(CheckSession(STAFF, theirs))
    assert audit.lines[-1][1]["sessions_ended"] == 2
    await _refused(people, "OP-1", PASSWORD)
    await _sign_in(people, "OP-1", "a brand new passphrase")


async def test_expired_sessions_are_pruned_by_later_sign_ins(floor: Floor, people: SignInHandlers) -> None:
    await _set(people)
    await _sign_in(people)
    floor.clock.tick(13 * 60)
    await _sign_in(people)
    assert len(floor.uows.state.sessions) == 1


# -- the limit of failed attempts --------------------------------------------------------


async def test_five_failures_of_a_code_block_it_for_the_window(
    floor: Floor, people: SignInHandlers, audit: Audit
) -> None:
    await _set(people)
    for _ in range(5):
        await _refused(people, "OP-1", "not the password", address=f"ipv4:10.0.0.{_}:1")
        floor.clock.tick(1)
    with pytest.raises(ResourceExhausted) as err:  # even with the right password, from anywhere
        await _sign_in(people, address="ipv4:10.9.9.9:1")
    assert err.value.reason == "SIGN_IN_THROTTLED"
    assert err.value.metadata == {"retry_after_s": str(10 * 60)}  # the first failure leaves the window in 10 min
    assert audit.lines[-1] == (
        "sign_in_throttled",
        {"operator_code": "OP-1", "client_address": "ipv4:10.9.9.9:1", "retry_after_s": 600},
    )
    await _set(people, "OP-2")
    await _sign_in(people, "OP-2")  # other codes are not blocked
    floor.clock.tick(10)
    await _sign_in(people)


async def test_twenty_failures_from_an_address_block_it_for_every_code(floor: Floor, people: SignInHandlers) -> None:
    await _set(people)
    for n in range(20):
        await _refused(people, f"GUESS-{n}", address=ADDRESS)
    with pytest.raises(ResourceExhausted) as err:
        await _sign_in(people, address=ADDRESS)
    assert err.value.metadata == {"retry_after_s": str(15 * 60)}
    await _sign_in(people, address="ipv4:10.0.0.8:40000")  # another address
    floor.clock.tick(15)
    await _sign_in(people, address=ADDRESS)


async def test_refused_attempts_are_not_counted_and_old_failures_are_pruned(
    floor: Floor, people: SignInHandlers
) -> None:
    for _ in range(5):
        await _refused(people, "OP-1")
    for _ in range(3):
        with pytest.raises(ResourceExhausted):
            await _sign_in(people)
    assert len(floor.uows.state.sign_in_failures) == 5
    floor.clock.tick(16)
    await _refused(people, "OP-2")
    assert [f.operator_code for f in floor.uows.state.sign_in_failures] == ["OP-2"]


async def test_a_long_code_or_address_is_counted_cut_to_its_stored_length(floor: Floor, people: SignInHandlers) -> None:
    code, address = "C" * 300, "A" * 300
    for _ in range(5):
        await _refused(people, code, address=address)
    failure = floor.uows.state.sign_in_failures[0]
    assert (len(failure.operator_code), len(failure.client_address)) == (40, 100)
    with pytest.raises(ResourceExhausted):
        await _sign_in(people, code, address="ipv4:10.1.1.1:1")


def test_commands_never_show_the_password_or_token() -> None:
    caller = Principal("service", "web")
    shown = repr(
        [
            SignIn(caller, "OP-1", PASSWORD, ADDRESS),
            SetOperatorPassword(caller, "OP-1", PASSWORD),
            CheckSession(caller, "secret-token"),
            SignOut(caller, "secret-token"),
        ]
    )
    assert PASSWORD not in shown and "secret-token" not in shown


def test_the_session_time_is_a_setting_of_whole_positive_seconds() -> None:
    assert Settings.own_knobs({})["session_ttl_s"] == 12 * 3600
    assert Settings.own_knobs({"SESSION_TTL_S": "600"})["session_ttl_s"] == 600
    for bad in ("0", "-60", "soon"):
        with pytest.raises(ValueError):
            Settings.own_knobs({"SESSION_TTL_S": bad})
