from mes_platform.migrations import run_env
from services.webhooks.adapters.tables import metadata

run_env(metadata)
