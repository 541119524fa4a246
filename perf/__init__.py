"""Performance suites of Jewelry MES: the bench script, its load generator and locust scenarios.

Nothing here is collected by pytest; see ``perf/README.md``.
"""
