"""Logging of both servers: the ``logging`` config section and the process-wide setup.

Records go to stderr; ``logging.level`` (debug, info, warning, error) sets the level of the
whole process, third-party libraries included.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from .config_file import Section

__all__ = ["LogLevel", "LoggingConfig", "configure_logging"]

LogLevel = Literal["debug", "info", "warning", "error"]


class LoggingConfig(Section):
    """The ``logging`` section of the host's and the receiver's config."""

    level: LogLevel = "info"


def configure_logging(level: LogLevel) -> None:
    """Log one line per record on stderr from ``level`` up (the first call sets the format)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level.upper())
    logging.getLogger("uvicorn.error").addFilter(_not_cancelled)


def _not_cancelled(record: logging.LogRecord) -> bool:
    """Drop the traceback of a request cancelled at the end of a graceful shutdown (uvicorn
    has said so in one line already)."""
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))
