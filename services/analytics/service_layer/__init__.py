"""Use cases of the analytics service (projection, queries, import and rebuild), over the ports in
``ports.py``."""
