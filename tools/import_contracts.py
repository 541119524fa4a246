"""A contract type for import-linter: ``forbidden`` with named exceptions.

``forbidden_except`` forbids the modules matched by ``forbidden_modules`` except those matched by
``allowed_modules``, then checks like import-linter's own ``forbidden`` contract (same options,
direct and indirect imports, same report). It states rules such as "an adapter may import its
service's ``service_layer.ports`` and no other module of the service layer" without listing
every other module (a list that would go stale as modules are added) and without
``ignore_imports`` (which would excuse individual imports instead of stating a rule).

Registered in ``pyproject.toml``::

    [tool.importlinter]
    contract_types = ["forbidden_except: tools.import_contracts.ForbiddenExceptContract"]
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter import ContractCheck, fields
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain.helpers import module_expressions_to_modules
from importlinter.domain.imports import ModuleExpression

__all__ = ["ForbiddenExceptContract"]


class ForbiddenExceptContract(ForbiddenContract):
    """``forbidden_modules`` minus ``allowed_modules`` must not be imported by ``source_modules``."""

    type_name = "forbidden_except"

    allowed_modules = fields.SetField(subfield=fields.ModuleExpressionField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        forbidden = module_expressions_to_modules(graph, self.forbidden_modules)  # type: ignore[arg-type]
        allowed = module_expressions_to_modules(graph, self.allowed_modules, raise_if_unmatched=True)  # type: ignore[arg-type]
        if not allowed <= forbidden:
            stray = sorted(m.name for m in allowed - forbidden)
            raise ValueError(f"allowed_modules must be among the forbidden modules; not forbidden: {stray}")
        remaining = {ModuleExpression(m.name) for m in forbidden - allowed}
        if not remaining:
            raise ValueError("allowed_modules leave nothing forbidden")
        configured = self.forbidden_modules
        self.forbidden_modules = remaining  # type: ignore[assignment]
        try:
            return super().check(graph, verbose)
        finally:
            self.forbidden_modules = configured
