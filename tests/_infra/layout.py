"""Where a test module lives and how it is named, so a module's tests are easy to find.

The convention (``tests/README.md``)::

    tests/<tier>/<area>[/<subpackage>...]/test_<prefix>[_<topic>].py

* ``<tier>``: ``unit`` (no I/O), ``integration`` (one real adapter), ``e2e`` (processes);
* ``<area>``: the source package under test, by its name in the repository (``orders``,
  ``inventory`` and ``production`` for ``services/<name>``; ``clients``, ``graphql_facade``,
  ``mes_contracts``, ``mes_platform``, ``mes_stack``, ``perf``, ``tools``), or a flow across
  packages (``saga``, ``observability``; ``faults`` and ``web`` in e2e); sub-folders mirror sub-packages
  (``clients/cli``, ``graphql_facade/limits``, ``mes_platform/messaging``);
* ``<prefix>``: the short name of that package or module, fixed per folder in ``FOLDERS``
  (``test_orders_*`` in every ``orders`` folder, ``test_msg_*`` for ``mes_platform/messaging``).

So ``find tests -path '*orders*' -name 'test_orders_*'`` lists every test of the orders
service. Modules that are not tests (helpers, fakes, workers) must not start with ``test_``.
A new folder is added to ``FOLDERS`` with its prefixes.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FOLDERS", "layout_violations"]

#: Folder (relative to ``tests/``) -> the prefixes its test modules may have.
FOLDERS: dict[str, tuple[str, ...]] = {
    # unit: no I/O
    "unit": ("infra",),  # tests/_infra itself
    "unit/analytics": ("analytics",),
    "unit/clients": ("clients",),
    "unit/clients/cli": ("mesctl",),
    "unit/graphql_facade": ("facade",),
    "unit/graphql_facade/limits": ("limits",),
    "unit/graphql_facade/web": ("web",),
    "unit/inventory": ("inventory",),
    "unit/mes_contracts": ("events",),
    "unit/mes_kernel": ("kernel",),
    "unit/mes_platform": ("ops", "telemetry"),
    "unit/mes_platform/admin": ("admin",),
    "unit/mes_platform/messaging": ("msg",),
    "unit/mes_stack": ("stack",),
    "unit/orders": ("orders",),
    "unit/perf": ("perf",),
    "unit/production": ("production",),
    "unit/tools": ("import", "deploy"),
    "unit/webhooks": ("webhooks",),
    # integration: one real adapter
    "integration/analytics": ("analytics",),
    "integration/clients": ("clients", "mesctl"),
    "integration/graphql_facade": ("facade",),
    "integration/graphql_facade/limits": ("limits",),
    "integration/inventory": ("inventory",),
    "integration/mes_platform": ("service",),
    "integration/mes_platform/admin": ("admin",),
    "integration/mes_platform/messaging": ("msg",),
    "integration/mes_stack": ("stack",),
    "integration/observability": ("obs",),  # metrics, alert rules and dashboard across the processes
    "integration/orders": ("orders",),
    "integration/perf": ("perf",),
    "integration/production": ("production",),
    "integration/saga": ("saga",),
    "integration/webhooks": ("webhooks",),
    # e2e: real processes on loopback
    "e2e": ("stack", "graphql"),
    "e2e/web": ("web",),
    "e2e/faults": ("fault",),
    "e2e/observability": ("obs",),
    "e2e/webhooks": ("webhooks",),
    "e2e/analytics": ("analytics",),
}


def _named(name: str, prefix: str) -> bool:
    return name == f"test_{prefix}.py" or name.startswith(f"test_{prefix}_")


def layout_violations(tests_dir: Path) -> list[str]:
    """Every test module under ``tests_dir`` that is not where or how the convention says."""
    problems: list[str] = []
    for path in sorted(tests_dir.rglob("test_*.py")):
        relative = path.relative_to(tests_dir)
        if relative.parts[0].startswith("_") or "__pycache__" in relative.parts:
            continue
        folder, name = relative.parent.as_posix(), relative.name
        prefixes = FOLDERS.get(folder)
        if prefixes is None:
            problems.append(f"{relative}: folder {folder!r} is not in FOLDERS (tests/_infra/layout.py)")
        elif not any(_named(name, p) for p in prefixes):
            wanted = " or ".join(f"test_{p}_<topic>.py" for p in prefixes)
            problems.append(f"{relative}: name it {wanted}")
    return problems
