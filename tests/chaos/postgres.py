"""Stop and start the chaos run's private PostgreSQL cluster (``pg_ctl`` on its data folder)."""

from __future__ import annotations

import os
import subprocess

from tests.support.postgres import data_directory, find_pg_bin

__all__ = ["PostgresControl"]


class PostgresControl:
    def __init__(self, base_url: str) -> None:
        self.data = data_directory(base_url)
        pg_bin = find_pg_bin()
        assert pg_bin is not None
        self.pg_ctl = str(pg_bin / "pg_ctl")

    def _run(self, *args: str) -> None:
        command = [self.pg_ctl, "-D", str(self.data), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)

    def stop(self) -> None:
        """A fast shutdown: every connection is closed at once."""
        self._run("-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Start it again with the options it last ran with (``postmaster.opts``)."""
        self._run("-l", str(self.data.parent / "restart.log"), "-w", "restart")
