"""The plan `mes up` would run, built the way the stack builds it, for the plan tests (no processes)."""

from __future__ import annotations

from collections.abc import Mapping

from mes_stack.options import StackOptions
from mes_stack.plan import StackPlan, build_plan

PG = "postgresql://postgres@127.0.0.1:5432/mes"


def plan(
    env: Mapping[str, str] | None = None,
    *,
    facade: bool = False,
    nats_binary: str | None = "/venv/bin/nats-server",
    **kwargs: object,
) -> StackPlan:
    env = dict(env or {})
    options = StackOptions.resolve(env, data_dir="/data", **kwargs)  # type: ignore[arg-type]
    return build_plan(options, env, python="/venv/bin/python", nats_binary=nats_binary, facade_available=facade)
