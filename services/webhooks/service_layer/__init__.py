"""Use cases of the webhooks service, over the ports in ``ports.py``."""
