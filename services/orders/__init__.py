"""The orders service: partners (tenants), order intake and the order lifecycle."""
