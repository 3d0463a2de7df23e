"""A tiny pure-Python line-chart writer for ``benchmarks/soak.py`` (PNG via zlib, no plotting
library in the project's dependencies): stacked panels, one line per series, a dashed limit,
the warm-up boundary, and labels in a 3x5 pixel font."""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Panel", "Series", "draw_soak", "write_png"]

Color = tuple[int, int, int]
COLORS: list[Color] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189)]
GREY, RED, BLACK, WHITE = (170, 170, 170), (214, 39, 40), (0, 0, 0), (255, 255, 255)

# 3x5 glyphs, rows top to bottom separated by "|", "#" lit.
_GLYPHS = {
    "0": "###|#.#|#.#|#.#|###", "1": ".#.|##.|.#.|.#.|###", "2": "###|..#|###|#..|###",
    "3": "###|..#|###|..#|###", "4": "#.#|#.#|###|..#|..#", "5": "###|#..|###|..#|###",
    "6": "###|#..|###|#.#|###", "7": "###|..#|..#|..#|..#", "8": "###|#.#|###|#.#|###",
    "9": "###|#.#|###|..#|###", ".": "...|...|...|...|.#.", "-": "...|...|###|...|...",
    " ": "...|...|...|...|...", "%": "#.#|..#|.#.|#..|#.#", "/": "..#|..#|.#.|#..|#..",
    "(": ".#.|#..|#..|#..|.#.", ")": ".#.|..#|..#|..#|.#.", ":": "...|.#.|...|.#.|...",
    "=": "...|###|...|###|...", ",": "...|...|...|.#.|#..", ">": "#..|.#.|..#|.#.|#..",
    "A": ".#.|#.#|###|#.#|#.#", "B": "##.|#.#|##.|#.#|##.", "C": "###|#..|#..|#..|###",
    "D": "##.|#.#|#.#|#.#|##.", "E": "###|#..|###|#..|###", "F": "###|#..|###|#..|#..",
    "G": "###|#..|#.#|#.#|###", "H": "#.#|#.#|###|#.#|#.#", "I": "###|.#.|.#.|.#.|###",
    "J": "..#|..#|..#|#.#|###", "K": "#.#|#.#|##.|#.#|#.#", "L": "#..|#..|#..|#..|###",
    "M": "#.#|###|###|#.#|#.#", "N": "##.|#.#|#.#|#.#|#.#", "O": "###|#.#|#.#|#.#|###",
    "P": "###|#.#|###|#..|#..", "Q": "###|#.#|#.#|###|..#", "R": "##.|#.#|##.|#.#|#.#",
    "S": "###|#..|###|..#|###", "T": "###|.#.|.#.|.#.|.#.", "U": "#.#|#.#|#.#|#.#|###",
    "V": "#.#|#.#|#.#|#.#|.#.", "W": "#.#|#.#|###|###|#.#", "X": "#.#|#.#|.#.|#.#|#.#",
    "Y": "#.#|#.#|.#.|.#.|.#.", "Z": "###|..#|.#.|#..|###",
}  # fmt: skip


@dataclass
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]


@dataclass
class Panel:
    title: str
    series: list[Series]
    limits: list[float] = field(default_factory=list)  # dashed horizontal lines


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i : i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, dash: int = 0) -> None:
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, step = dx + dy, 0
        while True:
            if not dash or (step // dash) % 2 == 0:
                self.dot(x0, y0, color)
                self.dot(x0, y0 + 1, color)
            if x0 == x1 and y0 == y1:
                return
            step += 1
            e2 = 2 * err
            if e2 >= dy:
                err, x0 = err + dy, x0 + sx
            if e2 <= dx:
                err, y0 = err + dx, y0 + sy

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> None:
        for char in text.upper():
            glyph = _GLYPHS.get(char, _GLYPHS[" "]).replace("|", "")
            for i, bit in enumerate(glyph):
                if bit == "#":
                    for a in range(scale):
                        for b in range(scale):
                            self.dot(x + (i % 3) * scale + a, y + (i // 3) * scale + b, color)
            x += 4 * scale

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + bytes(self.pixels[3 * y * self.width : 3 * (y + 1) * self.width])
            for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b"")
        )


def _label(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def write_png(
    path: Path, panels: list[Panel], *, x_max: float, marker: float, x_title: str
) -> None:
    """Write `panels` stacked in one PNG; `marker` is a vertical line (the warm-up's end)."""
    width, panel_h, left, right = 900, 200, 70, 20
    canvas = Canvas(width, 30 + panel_h * len(panels) + 30)
    for n, panel in enumerate(panels):
        top = 30 + n * panel_h
        y0, y1 = top + 20, top + panel_h - 25
        values = [v for s in panel.series for v in s.ys] + panel.limits
        lo, hi = min(values, default=0.0), max(values, default=1.0)
        lo, hi = min(lo, 0.0), hi * 1.08 if hi > 0 else 1.0

        def px(x: float) -> int:
            return left + round((width - left - right) * x / (x_max or 1))

        def py(v: float, y0: int = y0, y1: int = y1, lo: float = lo, hi: float = hi) -> int:
            return y1 - round((y1 - y0) * (v - lo) / ((hi - lo) or 1))

        canvas.text(left, top, panel.title)
        for x0, y, x1, y2 in ((left, y0, left, y1), (left, y1, width - right, y1)):
            canvas.line(x0, y, x1, y2, BLACK)
        for value in (lo, (lo + hi) / 2, hi):
            canvas.text(4, py(value) - 5, _label(value))
            canvas.line(left - 4, py(value), left, py(value), BLACK)
        canvas.line(px(marker), y0, px(marker), y1, GREY, dash=4)
        for limit in panel.limits:
            canvas.line(left, py(limit), width - right, py(limit), RED, dash=6)
        legend_x = width - right - 260
        for color, series in zip(COLORS, panel.series, strict=False):
            points = list(zip(series.xs, series.ys, strict=True))
            for (xa, ya), (xb, yb) in itertools.pairwise(points):
                canvas.line(px(xa), py(ya), px(xb), py(yb), color)
            canvas.text(legend_x, top, series.name, color)
            legend_x += 130
    canvas.text(left, canvas.height - 20, x_title)
    canvas.text(width - right - 40, canvas.height - 20, _label(x_max))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canvas.png())


def draw_soak(
    path: Path, samples: list[dict[str, Any]], duration_s: float, roles: list[str], lag_ms: float
) -> None:
    """The soak's three panels: each role's RSS, open files and first-byte latency."""
    xs = [s["t"] / 60 for s in samples]
    titles = {"rss_mib": "RSS (MIB)", "fds": "OPEN FILES", "lag_ms": "FIRST-BYTE LATENCY (MS)"}
    panels = [
        Panel(
            title,
            [Series(role.upper(), xs, [s[role][metric] for s in samples]) for role in roles],
            [lag_ms] if metric == "lag_ms" else [],
        )
        for metric, title in titles.items()
    ]
    write_png(path, panels, x_max=duration_s / 60, marker=duration_s / 6 / 60, x_title="MINUTES")
