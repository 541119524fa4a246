"""Telemetry shared by every process (services, facade, tools): structured JSON logs
(``logs``), W3C trace context (``tracing``) and Prometheus metrics (``metrics``), so that
a request can be followed the same way through all of them."""
