"""Production: styles with versioned routings and bills of materials, work centers,
operators, work orders ("job bags") and their weighed operations."""
