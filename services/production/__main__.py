"""``python -m services.production``: serve the production gRPC service."""

from services.production.bootstrap import main

main()
