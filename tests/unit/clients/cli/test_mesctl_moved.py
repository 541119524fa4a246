"""`mesctl events ...` moved to the platform's `mes events`: every form says where, in one line, and exits 2."""

from __future__ import annotations

import io

import pytest

from clients.cli.__main__ import build_parser, run
from clients.cli.moved import EVENTS_MOVED

WHERE = "mes events dead-letters list|show|replay` and `mes events republish` (same options)"


async def mesctl(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["events", "dead-letters", "list", "-s", "orders", "--limit", "5"],
        ["events", "dead-letters", "show", "-s", "inventory", "7"],
        ["events", "dead-letters", "replay", "-s", "production", "7", "8", "--nats-url", "nats://n:4222"],
        ["events", "republish", "-s", "orders", "--since", "2026-01-01", "--until", "2026-01-02"],
    ],
)
async def test_each_former_command_says_where_it_went_and_exits_2(argv: list[str]) -> None:
    code, out, err = await mesctl(*argv)
    assert (code, out) == (2, "")
    assert err == f"mesctl: error: {EVENTS_MOVED}\n" and WHERE in err


async def test_help_and_a_bare_group_get_the_same_line() -> None:
    for argv in (["events"], ["events", "--help"], ["events", "-h"], ["-o", "json", "events", "dead-letters"]):
        code, out, err = await mesctl(*argv)
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and WHERE in err, argv


def test_the_group_is_listed_as_moved() -> None:
    assert "moved to `mes events`" in build_parser().format_help()
