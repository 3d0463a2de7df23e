"""Opt-in product-usage telemetry for plugin-based Python applications."""

__version__ = "0.1.0"
