from mes_platform.migrations import run_env
from services.analytics.adapters.tables import metadata

run_env(metadata)
