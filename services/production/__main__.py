"""``python -m services.production``: run the production gRPC service."""

from mes_platform.runtime import run_service
from services.production.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
