"""Request validation that reports every bad field at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Self, TypeVar

from mes_kernel.errors import FieldViolation, InvalidArgument

__all__ = ["CODE_RE", "Violations", "parse_name"]

# Codes (SKUs, alloy codes, work centers, operators): upper-case letters, digits, '-', '_'.
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
E = TypeVar("E")


class Violations:
    """Collects field violations; ``raise_if_any`` raises one INVALID_ARGUMENT for all."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> Self:
        self.items.append(FieldViolation(field, description))
        return self

    def check(self, ok: bool, field: str, description: str) -> bool:
        if not ok:
            self.add(field, description)
        return ok

    def text(self, value: str, field: str, *, max_len: int, required: bool = False) -> None:
        if required and not value.strip():
            self.add(field, "is required")
        elif len(value) > max_len:
            self.add(field, f"must be at most {max_len} characters")
        elif any(ord(c) < 32 and c not in "\t" for c in value):
            self.add(field, "must not contain control characters")

    def code(self, value: str, field: str) -> None:
        if not value:
            self.add(field, "is required")
        elif not CODE_RE.match(value):
            self.add(field, "must be 1..40 of A-Z, 0-9, '-' or '_', starting with a letter or digit")

    def positive(self, value: int, field: str, *, maximum: int | None = None) -> None:
        if value <= 0:
            self.add(field, "must be greater than zero")
        elif maximum is not None and value > maximum:
            self.add(field, f"must be at most {maximum}")

    def non_negative(self, value: int, field: str, *, maximum: int | None = None) -> None:
        if value < 0:
            self.add(field, "must not be negative")
        elif maximum is not None and value > maximum:
            self.add(field, f"must be at most {maximum}")

    def request_id(self, value: str, field: str = "request_id", *, required: bool = False) -> None:
        if not value:
            if required:
                self.add(field, "is required")
            return
        if len(value) > 64 or not value.isprintable() or value.strip() != value:
            self.add(field, "must be 1..64 printable characters without surrounding spaces")

    def members(self, values: Iterable[int], known: Mapping[int, E], field: str, description: str) -> list[E]:
        """The members ``known`` maps the wire ``values`` (of a repeated enum field) to; each
        unknown value is a violation ``{field}[index]``."""
        found: list[E] = []
        for index, value in enumerate(values):
            member = known.get(value)
            if member is None:
                self.add(f"{field}[{index}]", description)
            else:
                found.append(member)
        return found

    def raise_if_any(self, message: str = "the request has invalid fields") -> None:
        if self.items:
            raise InvalidArgument(message, violations=self.items)


def parse_name(name: str, collection: str, field: str = "name") -> str:
    """Return the id of ``{collection}/{id}``; raise INVALID_ARGUMENT when malformed."""
    prefix = f"{collection}/"
    ident = name[len(prefix) :] if name.startswith(prefix) else ""
    if not ident or not _ID_RE.match(ident):
        raise InvalidArgument(
            f"{field} must look like '{collection}/{{id}}'",
            violations=[FieldViolation(field, f"must look like '{collection}/{{id}}'")],
        )
    return ident
