"""The ``telemetry-service`` command."""
