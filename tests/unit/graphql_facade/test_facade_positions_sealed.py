"""Partners' positions: the stream sequence sealed to the partner (authenticated, opaque, bound)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphql_facade.positions_sealed import InvalidPosition, PositionSealer, sealer_for

SEALER = PositionSealer("a-secret")


@given(seq=st.integers(min_value=0, max_value=2**64 - 1), partner=st.text(min_size=1, max_size=40))
def test_a_position_opens_to_its_sequence_for_its_partner(seq: int, partner: str) -> None:
    position = SEALER.seal(partner, seq)
    assert position.startswith("p1.") and len(position) == 25  # one length: the size says nothing
    assert SEALER.open(partner, position) == seq


def test_positions_are_opaque_deterministic_and_differ_per_partner() -> None:
    a = [SEALER.seal("partner-a", seq) for seq in range(1000, 1010)]
    assert a == [SEALER.seal("partner-a", seq) for seq in range(1000, 1010)]  # the same on every replica
    assert len(set(a)) == 10
    assert not {SEALER.seal("partner-b", seq) for seq in range(1000, 1010)} & set(a)
    assert not any(str(seq) in position for seq, position in zip(range(1000, 1010), a, strict=True))


def test_another_partners_position_is_refused() -> None:
    with pytest.raises(InvalidPosition, match="was not issued to you"):
        SEALER.open("partner-b", SEALER.seal("partner-a", 42))


def test_another_secrets_position_is_refused() -> None:
    with pytest.raises(InvalidPosition, match="was not issued to you"):
        SEALER.open("partner-a", PositionSealer("another-secret").seal("partner-a", 42))


def test_every_altered_character_is_refused() -> None:
    position = SEALER.seal("partner-a", 42)
    for index in range(3, len(position) - 1):  # the last character carries 2 padding bits only
        swapped = "A" if position[index] != "A" else "B"
        altered = position[:index] + swapped + position[index + 1 :]
        with pytest.raises(InvalidPosition):
            SEALER.open("partner-a", altered)


@pytest.mark.parametrize("text", ["", "42", "p1.", "p2." + "A" * 22, "p1." + "!" * 22, "p1." + "A" * 21, "x" * 25])
def test_malformed_positions_are_refused(text: str) -> None:
    with pytest.raises(InvalidPosition, match="is not a position"):
        SEALER.open("partner-a", text)


def test_out_of_range_sequences_and_empty_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        SEALER.seal("partner-a", -1)
    with pytest.raises(ValueError, match="out of range"):
        SEALER.seal("partner-a", 2**64)
    with pytest.raises(ValueError, match="must not be empty"):
        PositionSealer("")


def test_one_sealer_per_secret() -> None:
    assert sealer_for("s") is sealer_for("s") and sealer_for("s") is not sealer_for("t")
