from services.production.adapters.tables import metadata
from services.shared.migrations import run_env

run_env(metadata)
