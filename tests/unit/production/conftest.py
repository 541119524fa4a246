"""The production unit tests' shop floor: the use cases on the in-memory fakes, seeded."""

from __future__ import annotations

import pytest

from tests.unit.production._floor import Floor


@pytest.fixture
async def floor() -> Floor:
    """The ring style, its work centers (capacity 2) and operators OP-1, OP-2, OP-OLD (inactive), SUP-1."""
    seeded = Floor()
    await seeded.seed()
    return seeded
