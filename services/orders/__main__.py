"""``python -m services.orders``: run the orders gRPC service."""

from mes_platform.runtime import run_service
from services.orders.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
