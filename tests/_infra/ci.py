"""Missing services: skipped on a developer's machine, a failure in CI (CI=true)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["in_ci", "service_unavailable"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def service_unavailable(reason: str) -> NoReturn:
    """Skip the test locally; fail it in CI, where every service must be present."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: tests that need a service must not be skipped)", pytrace=False)
    pytest.skip(reason)
