"""Event-based telemetry on the receiver: NDJSON ingest (``ingest.py``, ``lines.py``), the
property analysis of the events API (``properties.py``) and event exports (``export.py``).
Storage is ``storage/events.py``; the routes are ``api/events.py`` and
``api/event_ingest.py``."""

from __future__ import annotations

from .ingest import EventIngest, EventOutcome, event_channel_names

__all__ = ["EventIngest", "EventOutcome", "event_channel_names"]
