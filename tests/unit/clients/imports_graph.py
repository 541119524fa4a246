"""The import graph of first-party packages, read from every import statement (lazy and TYPE_CHECKING
ones too), for the import rules of ``clients`` and ``graphql_facade`` (until import-linter checks them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(module: str, path: Path) -> set[str]:
    """Every module name ``module`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def graph(*packages: str) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports."""
    every = {name: path for package in packages for name, path in modules(package).items()}

    def resolve(name: str) -> str | None:
        while name and name not in every:
            name = name.rpartition(".")[0]
        return name or None

    return {
        module: {target for name in imports(module, path) if (target := resolve(name)) and target != module}
        for module, path in every.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def first_party_imports(package: str, roots: tuple[str, ...]) -> dict[str, set[str]]:
    """Per module of ``package``: the imported names under ``roots`` (top-level package names)."""
    return {
        module: {name for name in imports(module, path) if name.split(".")[0] in roots}
        for module, path in modules(package).items()
    }


def forbidden_imports(package: str, first_party: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """Per module of ``package``: the first-party names it imports that start with none of ``allowed``."""
    found = {
        module: sorted(name for name in names if not name.startswith(allowed))
        for module, names in first_party_imports(package, first_party).items()
    }
    return {module: names for module, names in found.items() if names}
