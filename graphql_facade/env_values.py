"""Values read from environment variables, with errors that name the variable."""

from __future__ import annotations

__all__ = ["non_negative_number"]


def non_negative_number(name: str, raw: str | None, default: float, *, unit: str = "") -> float:
    """``raw``, the value of the variable ``name``, as a number not below 0; ``default`` when it is unset or
    blank. ``unit`` (``seconds``, ``milliseconds``) only words the error: the number is returned as given."""
    text = (raw or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        kind = f"a number of {unit}" if unit else "a number"
        raise ValueError(f"{name} must be {kind}, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value
