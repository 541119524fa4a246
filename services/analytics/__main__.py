"""``python -m services.analytics``: run the analytics gRPC service (and, by ``ROLE``, its consumers).

The streams it reads are ensured first (the FACADE stream is the facade's own); a bad setting (an
unknown ``MES_ANALYTICS_TIME_ZONE``) stops it with one line.
"""

import asyncio
import sys

from mes_platform.config import InsecureSettings
from mes_platform.messaging.runtime import NatsUnavailable
from mes_platform.runtime import run_service
from services.analytics.adapters.streams import ensure_consumed_streams
from services.analytics.bootstrap import SPEC
from services.analytics.config import SERVICE
from services.analytics.entrypoints.consumers import CONSUMED_STREAMS


def main() -> None:
    try:
        settings = SPEC.settings_from_env()
        asyncio.run(ensure_consumed_streams(settings, CONSUMED_STREAMS))
    except (InsecureSettings, ValueError, NatsUnavailable) as exc:
        print(f"{SERVICE}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    run_service(SPEC)


if __name__ == "__main__":
    main()
