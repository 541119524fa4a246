"""Subjects: NATS wildcard matching and subject -> protobuf message class routing (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

__all__ = ["SubjectRouter", "subject_matches", "validate_subject"]

V = TypeVar("V")


def validate_subject(pattern: str) -> None:
    """Raise ValueError unless ``pattern`` is a valid subject or wildcard filter."""
    tokens = pattern.split(".")
    if not pattern or any(not t or any(c.isspace() for c in t) for t in tokens):
        raise ValueError(f"invalid subject {pattern!r}")
    for i, token in enumerate(tokens):
        if ">" in token and (token != ">" or i != len(tokens) - 1):
            raise ValueError(f"'>' must be the last token alone in {pattern!r}")
        if "*" in token and token != "*":
            raise ValueError(f"'*' must be a whole token in {pattern!r}")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS semantics: ``*`` matches one token, a final ``>`` one or more tokens."""
    p_tokens = pattern.split(".")
    s_tokens = subject.split(".")
    for i, p in enumerate(p_tokens):
        if p == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens):
            return False
        if p != "*" and p != s_tokens[i]:
            return False
    return len(p_tokens) == len(s_tokens)


class SubjectRouter(Generic[V]):
    """Finds the value registered for a subject: an exact subject wins over wildcard patterns,
    and among patterns the first registered one that matches wins."""

    def __init__(self, routes: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        self._exact: dict[str, V] = {}
        self._patterns: list[tuple[str, V]] = []
        items = routes.items() if isinstance(routes, Mapping) else routes
        for pattern, value in items:
            self.add(pattern, value)

    def add(self, pattern: str, value: V) -> None:
        validate_subject(pattern)
        if "*" in pattern or ">" in pattern:
            if any(p == pattern for p, _ in self._patterns):
                raise ValueError(f"subject pattern {pattern!r} registered twice")
            self._patterns.append((pattern, value))
        else:
            if pattern in self._exact:
                raise ValueError(f"subject {pattern!r} registered twice")
            self._exact[pattern] = value

    def get(self, subject: str) -> V | None:
        found = self._exact.get(subject)
        if found is not None:
            return found
        for pattern, value in self._patterns:
            if subject_matches(pattern, subject):
                return value
        return None

    def patterns(self) -> list[str]:
        return [*self._exact, *(p for p, _ in self._patterns)]

    def __contains__(self, subject: object) -> bool:
        return isinstance(subject, str) and self.get(subject) is not None
