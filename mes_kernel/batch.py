"""Batch reads (``BatchGet*``): results in the order of the keys asked for."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mes_kernel.errors import FieldViolation, InvalidArgument, NotFound

__all__ = ["MAX_BATCH", "BatchResult", "batch_result", "check_batch_size"]

K = TypeVar("K")
T = TypeVar("T")

#: Most keys one batch call may ask for.
MAX_BATCH = 1000


@dataclass(frozen=True)
class BatchResult(Generic[K, T]):
    """The items found, in the order of the keys (duplicates repeated), and the keys missing."""

    items: list[T]
    missing: list[K] = field(default_factory=list)


def check_batch_size(count: int, field_name: str = "names", *, maximum: int = MAX_BATCH) -> None:
    if count > maximum:
        raise InvalidArgument(
            f"at most {maximum} names per call", violations=[FieldViolation(field_name, f"at most {maximum}")]
        )


def batch_result(
    keys: Sequence[K], found: Mapping[K, T], *, allow_missing: bool, label: Callable[[K], str]
) -> BatchResult[K, T]:
    """Items in the order of ``keys``; a missing key fails NOT_FOUND unless ``allow_missing``."""
    missing = [key for key in keys if key not in found]
    if missing and not allow_missing:
        raise NotFound(f"{label(missing[0])} not found", metadata={"missing": label(missing[0])})
    return BatchResult([found[key] for key in keys if key in found], missing)
