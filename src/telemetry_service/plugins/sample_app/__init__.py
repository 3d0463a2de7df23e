"""A small example plugin: it uses telemetry when present and runs without it."""

from .plugin import SampleAppPlugin

__all__ = ["SampleAppPlugin"]
