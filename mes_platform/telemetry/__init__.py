"""Telemetry shared by every process (services, facade, tools): structured JSON logs
(``logs``), W3C trace context and OpenTelemetry spans (``tracing``; where they go, from the
``OTEL_*`` settings: ``trace_export``) and Prometheus metrics (``metrics``), so that a request
can be followed the same way through all of them."""
