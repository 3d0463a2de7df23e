"""common.log: the ``logging`` section and the process-wide level."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from telemetry_service.common.log import LoggingConfig, LogLevel, configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, uvicorn = logging.getLogger(), logging.getLogger("uvicorn.error")
    level, filters = root.level, list(uvicorn.filters)
    yield
    root.setLevel(level)
    uvicorn.filters[:] = filters


def test_the_section_allows_four_levels() -> None:
    assert LoggingConfig().level == "info"
    assert LoggingConfig.model_validate({"level": "debug"}).level == "debug"
    with pytest.raises(ValidationError):
        LoggingConfig.model_validate({"level": "verbose"})


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("level", ["debug", "info", "warning", "error"])
def test_configure_logging_sets_the_process_level(level: LogLevel) -> None:
    configure_logging(level)
    assert logging.getLogger().level == getattr(logging, level.upper())


@pytest.mark.usefixtures("restore_logging")
def test_a_request_cancelled_at_shutdown_logs_no_traceback() -> None:
    configure_logging("info")
    uvicorn = logging.getLogger("uvicorn.error")

    def record(exc: BaseException) -> logging.LogRecord:
        return uvicorn.makeRecord(
            "uvicorn.error", 40, "h11", 1, "Exception", (), (type(exc), exc, None)
        )

    assert not uvicorn.filter(record(asyncio.CancelledError()))
    assert uvicorn.filter(record(ValueError()))
