"""GraphQL facade of the Jewelry MES: one HTTP/WebSocket endpoint for operators and partners.

Operators authenticate with ``Authorization: Bearer <token>`` and see the whole shop floor;
partners authenticate with ``X-API-Key`` and see only their own orders and the catalogue.
``create_app(settings)`` (``graphql_facade.app``) is the composition root; ``python -m
graphql_facade`` serves it with uvicorn.
"""
