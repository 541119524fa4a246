"""Compiled execution of query documents: each document (and operation name) is compiled once into a
plan of field getters and batch resolvers over the services' messages, cached by document hash, and
run level by level with the request's DataLoaders (see :mod:`graphql_facade.compiled.plan` for what
it does not take; those documents run on Strawberry).

``fields`` (getter / batch resolver), ``objects`` and ``roots`` (the registry of both schemas),
``pages`` (Relay connections), ``plan`` (the compiler), ``run`` (the executor), ``cache`` (plans
by document).
"""

from __future__ import annotations

from graphql_facade.compiled.cache import PlanCache
from graphql_facade.compiled.plan import Plan, Unsupported, compile_plan
from graphql_facade.compiled.run import Runner

__all__ = ["Plan", "PlanCache", "Runner", "Unsupported", "compile_plan"]
