"""``python -m services.webhooks``: run the webhooks gRPC service (and, by ``ROLE``, its dispatcher)."""

from mes_platform.runtime import run_service
from services.webhooks.bootstrap import SPEC

if __name__ == "__main__":
    run_service(SPEC)
