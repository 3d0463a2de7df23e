"""The chaos run: three hosts on one PostgreSQL store, two receivers on one PostgreSQL database
behind a fault proxy, simulated days with faults, and events flowing all the while.

Real processes throughout. The hosts are three ``path.data`` folders sharing one store (one
cluster): each simulated day, a ``telemetry send`` of each runs at once under libfaketime at
that day's date, and the send lease lets one of them send. Host 0 also runs ``serve`` (its
fetcher off: the simulated days are the sends') whose event shipper ships through the proxy.
Meanwhile this process posts NDJSON event batches with an ``x-elastic-batch-id`` each, trying a
batch again with the same id until it is acknowledged, and greets ``serve`` so its shipper
has events. The receivers run on the real clock; the simulated days end before today, so a
snapshot is stored under its own day. :mod:`tests.chaos.checks` then checks the invariants.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from telemetry_service.receiver.keyfile import write_key_files
from telemetry_service.testing import Reply
from telemetry_service.wire.protocol import HEADER_BATCH_ID, event_headers
from tests.support.postgres import create_database
from tests.support.processes import ServerProcess, free_port, run_cli

from .postgres import PostgresControl
from .processes import clean_env, drain, faked_cli
from .proxy import FaultProxy

__all__ = ["FAULTS", "ChaosRun", "DayResult", "fault_schedule"]

#: In the order of their days: the vendor-side outages first, so that the host's event shipper,
#: which backs off after them (up to its next 60 s connectivity check), has sent again long
#: before the last day instead of the run waiting for it at the end.
FAULTS = ("http-500", "http-429", "receiver-kill", "postgres-restart", "holder-kill")
EVENTS_CLUSTER = "chaos-events"
EVENTS_PER_BATCH = 5
RETRY_AFTER_FAULT = dt.timedelta(minutes=20)  # past the 15 min lease of a killed holder


def fault_schedule(days: int) -> dict[int, str]:
    """Day -> fault: every fault once in each 10 days (days 1, 3, 5, 7 and 8 of each)."""
    offsets = dict(zip((1, 3, 5, 7, 8), FAULTS, strict=True))
    return {d: offsets[d % 10] for d in range(days) if d % 10 in offsets}


@dataclass
class DayResult:
    day: int
    date: dt.date
    fault: str | None
    rounds: list[list[str]] = field(default_factory=list)  # each send's outcome, per round
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(outcome == "sent" for r in self.rounds for outcome in r)


def outcome(code: int, out: str, err: str) -> str:
    if code == 0 and "Snapshot sent" in out:
        return "sent"
    for reason in ("already reported", "another instance is sending"):
        if reason in err:
            return reason
    return f"failed ({code}): {err.strip()[-200:]}"


class ChaosRun:
    def __init__(self, base_url: str, work: Path, days: int) -> None:
        self.base_url, self.work, self.days = base_url, work, days
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresControl(base_url)
        self.host_store = self._database("chaos_hosts")
        self.receiver_db = self._database("chaos_receivers")
        self.ports = [free_port(), free_port()]
        self.proxy = FaultProxy([f"http://127.0.0.1:{p}" for p in self.ports])
        self.receivers: list[ServerProcess] = []
        self.serve: ServerProcess | None = None
        self.results: list[DayResult] = []
        self.batches: list[tuple[str, int]] = []  # (batch id, accepted) of acknowledged batches
        self.outage_ended = 0.0  # time.monotonic() when the last outage ended
        self.lease_kept_out: list[str] = []
        midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.first_day = midnight - dt.timedelta(days=days + 2)
        self.last_sent: dt.datetime | None = None
        self._stop = threading.Event()

    def _database(self, name: str) -> str:
        return create_database(self.base_url, name, replace=True)

    # -- processes ---------------------------------------------------------------------------

    def start_receiver(self, stack: ExitStack, i: int) -> None:
        args = ["receiver", "serve", "--keys", str(self.keys.private), "--store", self.receiver_db]
        server = stack.enter_context(
            run_cli([*args, "--port", str(self.ports[i])], env=clean_env(), cwd=self.work)
        )
        drain(server, self.logs / f"receiver-{i}.log")
        if len(self.receivers) > i:
            self.receivers[i] = server
        else:
            self.receivers.append(server)

    def host_config(self, i: int, *, fetcher: bool = True) -> Path:
        path = self.work / f"host-{i}{'' if fetcher else '-serve'}.yml"
        config = {
            "path": {"data": str(self.work / f"host-{i}")},
            "server": {"host": "127.0.0.1", "port": 0},
            "store": {"url": self.host_store},
            "telemetry": {
                "endpoints": {"prod": self.proxy.url, "staging": self.proxy.url},
                "encryption": {"jwks": str(self.keys.public), "kid": "chaos"},
                "fetcher": {"enabled": fetcher},
                # A send gives up after 10 s of retries, not 25: an outage day still sees
                # three or four attempts, and the suite waits 30 s less.
                "timeouts": {"send": 10},
            },
        }
        path.write_text(json.dumps(config))
        return path

    def send_round(self, when: dt.datetime, hosts: tuple[int, ...] = (0, 1, 2)) -> list[str]:
        procs = [faked_cli(when, "telemetry", "send", "-c", str(self.configs[i]), cwd=self.work)
                 for i in hosts]  # fmt: skip
        outcomes = []
        with (self.logs / "sends.log").open("a") as log:
            for i, proc in zip(hosts, procs, strict=True):
                out, err = proc.communicate(timeout=180)
                log.write(f"== host {i} at {when:%Y-%m-%d %H:%M:%S} exit {proc.returncode}\n")
                log.write(out + err)
                outcomes.append(outcome(proc.returncode, out, err))
        if "sent" in outcomes:
            self.last_sent = when
        return outcomes

    # -- events ------------------------------------------------------------------------------

    def post_events(self) -> None:
        """Post batches through the proxy until stopped; each is tried until acknowledged."""
        headers = event_headers(EVENTS_CLUSTER, "8.1.0")
        with httpx.Client(timeout=60) as client:
            n = 0
            while not self._stop.is_set():
                batch_id = str(uuid.uuid4())
                now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
                body = "".join(
                    json.dumps({"timestamp": now.replace("+00:00", "Z"), "event_type": "chaos",
                                "context": {}, "properties": {"n": n, "i": i}}) + "\n"
                    for i in range(EVENTS_PER_BATCH)
                ).encode()  # fmt: skip
                while not self._stop.is_set():
                    try:
                        answer = client.post(
                            self.proxy.url + "v3/send/telemetry-service-server",
                            content=body, headers={**headers, HEADER_BATCH_ID: batch_id},
                        )  # fmt: skip
                        if answer.is_success:
                            self.batches.append((batch_id, answer.json()["accepted"]))
                            break
                    except httpx.HTTPError:
                        pass
                    self._stop.wait(0.2)
                if self.serve is not None:
                    with suppress(httpx.HTTPError):
                        client.get(self.serve.url + "/api/sample_app/hello")
                n += 1
                self._stop.wait(0.3)

    def shipped_after_outage(self) -> int:
        """Host shipper batches that a receiver acknowledged after the last outage ended."""
        return sum(
            1
            for a in list(self.proxy.answers)
            if a.at > self.outage_ended and a.forwarded and a.request.method == "POST"
            and 200 <= a.status < 300 and a.request.path.endswith("-server")
            and a.request.headers.get("x-elastic-cluster-id") != EVENTS_CLUSTER
        )  # fmt: skip

    def wait_for_shipper(self, timeout_s: float) -> None:
        """Give the host's shipper time to send again after the last outage: it backs off
        after failures (up to its next 60 s connectivity check), so this waits for it."""
        deadline = time.monotonic() + timeout_s
        while not self.shipped_after_outage() and time.monotonic() < deadline:
            time.sleep(0.5)

    # -- the days ----------------------------------------------------------------------------

    def when(self, day: int) -> dt.datetime:
        """02:00 on `day`, or later: a day after the last send (the interval is 24 h - 2 min)."""
        start = self.first_day + dt.timedelta(days=day, hours=2)
        if self.last_sent is not None:
            start = max(start, self.last_sent + dt.timedelta(days=1, minutes=1))
        return start

    def outage(self, day: DayResult, when: dt.datetime, reply: Reply) -> None:
        self.proxy.fault = reply
        day.rounds.append(self.send_round(when))
        time.sleep(3)  # the shipper and the event poster meet the outage too
        self.proxy.fault = None
        self.outage_ended = time.monotonic()
        day.rounds.append(self.send_round(when + RETRY_AFTER_FAULT))

    def holder_killed(self, day: DayResult, when: dt.datetime) -> None:
        self.proxy.held.clear()
        self.proxy.release.clear()
        self.proxy.hold_next_snapshot = True
        proc = faked_cli(when, "telemetry", "send", "-c", str(self.configs[0]), cwd=self.work)
        assert self.proxy.held.wait(120), "the held send never reached the proxy"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        self.proxy.release.set()
        day.rounds.append(["killed holding the lease"])
        kept_out = self.send_round(when + dt.timedelta(minutes=1), (1, 2))
        self.lease_kept_out += kept_out
        day.rounds.append(kept_out)
        day.rounds.append(self.send_round(when + RETRY_AFTER_FAULT))

    def run_day(self, stack: ExitStack, d: int, fault: str | None) -> DayResult:
        when = self.when(d)
        day = DayResult(d, when.date(), fault)
        if fault == "receiver-kill":
            victim = self.receivers[d % 2]
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(timeout=30)
            day.rounds.append(self.send_round(when))
            time.sleep(2)
            self.start_receiver(stack, d % 2)
        elif fault == "postgres-restart":
            self.postgres.stop()
            time.sleep(3)  # events meet the outage
            self.postgres.start()
            day.rounds.append(self.send_round(when))
        elif fault == "http-500":
            self.outage(day, when, Reply(500, body=b'{"error":"chaos"}'))
        elif fault == "http-429":
            self.outage(day, when, Reply(429, {"retry-after": "2"}, b'{"error":"chaos"}'))
        elif fault == "holder-kill":
            self.holder_killed(day, when)
        else:
            day.rounds.append(self.send_round(when))
        return day

    def run(self, on_day: Callable[[DayResult], None] = lambda day: None) -> None:
        self.keys = write_key_files(self.work / "keys", "chaos")
        schedule = fault_schedule(self.days)
        with ExitStack() as stack:
            stack.enter_context(self.proxy)  # first: the hosts' configs name its URL
            self.configs = [self.host_config(i) for i in range(3)]
            for i in range(2):
                self.start_receiver(stack, i)
            self.serve = stack.enter_context(
                run_cli(["serve", "--config", str(self.host_config(0, fetcher=False))],
                        env=clean_env(), cwd=self.work)
            )  # fmt: skip
            drain(self.serve, self.logs / "serve.log")
            poster = threading.Thread(target=self.post_events, daemon=True)
            poster.start()
            try:
                for d in range(self.days):
                    began = time.monotonic()
                    self.results.append(self.run_day(stack, d, schedule.get(d)))
                    self.results[-1].seconds = time.monotonic() - began
                    on_day(self.results[-1])
                self.wait_for_shipper(timeout_s=150)
            finally:
                self._stop.set()
                poster.join(timeout=60)
            self.status = self.host_status()
            self.exits = {"serve": self.serve.terminate(timeout=30)}
            for i, receiver in enumerate(self.receivers):
                self.exits[f"receiver-{i}"] = receiver.terminate(timeout=30)

    def host_status(self) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-m", "telemetry_service.cli.main", "telemetry", "status", "--json",
             "-c", str(self.configs[0])],
            capture_output=True, text=True, timeout=120, env=clean_env(), cwd=self.work,
            check=False,
        )  # fmt: skip
        (self.logs / "status.log").write_text(done.stdout + done.stderr)
        status: dict[str, object] = json.loads(done.stdout)
        return status
