"""The inventory unit tests' shop: the use cases on the in-memory fakes, with the alloy AU750Y."""

from __future__ import annotations

import pytest

from tests.unit.inventory._shop import Shop


@pytest.fixture
async def shop() -> Shop:
    """Empty fakes but for the gold alloy AU750Y (750, yellow); its clock ticks a second a call."""
    stocked = Shop()
    await stocked.alloy()
    return stocked
