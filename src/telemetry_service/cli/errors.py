"""How the CLI reports failures: one line on stderr, no traceback."""

from __future__ import annotations

import sys

__all__ = ["CliFailure", "fail"]


class CliFailure(Exception):
    """A failure already worded for the user (exit code 1)."""


def fail(message: str) -> CliFailure:
    return CliFailure(message)


def print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
