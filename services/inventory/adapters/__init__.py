"""SQLAlchemy tables, rows <-> domain mapping, repositories and the unit of work."""
