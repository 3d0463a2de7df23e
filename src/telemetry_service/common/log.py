"""Logging of both servers: the ``logging`` config section and the process-wide setup.

Records go to stderr, one line each; ``logging.level`` (debug, info, warning, error) sets the
level of the whole process, third-party libraries included.
"""

from __future__ import annotations

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
