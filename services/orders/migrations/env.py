from mes_platform.migrations import run_env
from services.orders.adapters.tables import metadata

run_env(metadata)
