"""``python -m services.inventory``: run the inventory gRPC service."""

from mes_platform.runtime import run_service
from services.inventory.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
