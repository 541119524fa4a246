"""The pure kernel shared by every part of Jewelry MES.

Errors with stable reasons, request validation, time helpers, paging types and tokens, the
acting principal and identifiers, and the plain-text tables the command lines print. It
imports only the standard library, so the services' domain code, the facade and ``mesctl``
can all use it (the import-linter contracts in ``pyproject.toml`` keep it that way).
"""
