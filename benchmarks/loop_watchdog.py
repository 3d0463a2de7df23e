"""A sampling watchdog for `loop_lag.py --watchdog`: where the event loop is when it is late.

A heartbeat task stamps the time every `BEAT_S` on the loop; a daemon thread checks the stamp
every `BEAT_S` and, when it is older than `late_ms`, samples every thread's stack with
``sys._current_frames()``. A sample names the loop thread's innermost frames (code that holds
the loop) and what each other thread runs at that moment (a worker thread in pure Python holds
the GIL the loop waits for). `report()` counts the samples per stack, the most seen first.

Each late episode over `episode_ms` is also listed: its length, and from Linux's
``/proc/self/task/<tid>/schedstat`` how long the loop thread ran (``loop_cpu_ms``) and how long
it was ready to run but waited for a CPU (``loop_runqueue_ms``, the machine's other work); the
rest of the episode it slept, waiting for the GIL or for I/O. The watchdog thread needs the GIL
and a CPU too: ``watchdog_gap_ms`` is its longest pause between two checks in the episode.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import threading
import time
import traceback
from typing import Any

BEAT_S = 0.002
FRAMES = 6
IDLE_FILES = ("threading.py", "queue.py", "thread.py", "selectors.py")
"""Where another thread waits (its innermost frame) rather than runs."""


def _stack(frame: Any, frames: int = FRAMES) -> str:
    """The innermost `frames` frames of a stack, innermost last, as ``file:line func``."""
    summary = traceback.extract_stack(frame)[-frames:]
    return " < ".join(
        f"{entry.filename.rsplit('/', 2)[-1]}:{entry.lineno} {entry.name}"
        for entry in reversed(summary)
    )


class Watchdog:
    """`start()` it on the loop, `stop()` it; it adds up over several start/stop pairs, which
    `report()` summarizes."""

    def __init__(self, late_ms: float = 15.0, episode_ms: float = 30.0) -> None:
        self.late_s = late_ms / 1000
        self.episode_s = episode_ms / 1000
        self.episodes: list[dict[str, Any]] = []
        self._episode: dict[str, Any] | None = None
        self._loop_native = threading.get_native_id()
        self._beat = time.perf_counter()
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._samples: collections.Counter[str] = collections.Counter()
        self._workers: collections.Counter[str] = collections.Counter()
        self._late_s = 0.0
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    async def _heartbeat(self) -> None:
        while True:
            self._beat = time.perf_counter()
            await asyncio.sleep(BEAT_S)

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._loop_native = threading.get_native_id()
        self._beat = time.perf_counter()
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
        if self._thread is not None:
            self._thread.join()

    def _schedstat(self) -> tuple[float, float]:
        """The loop thread's (CPU time, run-queue wait) so far, in ms; zeros off Linux."""
        try:
            with open(f"/proc/self/task/{self._loop_native}/schedstat") as file:
                ran, waited, _ = file.read().split()
        except OSError:
            return 0.0, 0.0
        return int(ran) / 1e6, int(waited) / 1e6

    def _watch(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(BEAT_S):
            now = time.perf_counter()
            gap, last = now - last, now
            late = now - self._beat
            if late < self.late_s:
                self._close_episode(now)
                continue
            self._late_s += gap
            frames = sys._current_frames()
            loop_frame = frames.get(self._loop_thread)
            if loop_frame is None:
                continue
            loop_stack = _stack(loop_frame)
            self._samples[loop_stack] += 1
            others = []
            for ident, frame in frames.items():
                idle = frame.f_code.co_filename.endswith(IDLE_FILES)
                if not idle and ident not in (self._loop_thread, threading.get_ident()):
                    others.append(_stack(frame, 3))
                    self._workers[others[-1]] += 1
            if self._episode is None:
                self._episode = {"beat": self._beat, "stat": self._schedstat(), "gap": 0.0}
                self._episode.update(loop=collections.Counter(), others=collections.Counter())
            self._episode["gap"] = max(self._episode["gap"], gap)
            self._episode["loop"][loop_stack] += 1
            self._episode["others"].update(others)
        self._close_episode(time.perf_counter())

    def _close_episode(self, now: float) -> None:
        episode, self._episode = self._episode, None
        if episode is None or now - episode["beat"] < self.episode_s:
            return
        ran, waited = self._schedstat()
        self.episodes.append(
            {
                "late_ms": round((self._beat - episode["beat"]) * 1000, 1),
                "loop_cpu_ms": round(ran - episode["stat"][0], 1),
                "loop_runqueue_ms": round(waited - episode["stat"][1], 1),
                "watchdog_gap_ms": round(episode["gap"] * 1000, 1),
                "loop": [f"{n} {s}" for s, n in episode["loop"].most_common(3)],
                "others": [f"{n} {s}" for s, n in episode["others"].most_common(4)],
            }
        )

    def report(self, top: int = 12) -> dict[str, Any]:
        """The loop's stacks when late (samples each), and the other threads' at those times."""
        return {
            "late_ms": round(self._late_s * 1000, 1),
            "loop_stacks": [{"samples": n, "stack": s} for s, n in self._samples.most_common(top)],
            "other_threads": [
                {"samples": n, "stack": s} for s, n in self._workers.most_common(top)
            ],
            "episodes": sorted(self.episodes, key=lambda e: -e["late_ms"])[:top],
        }
