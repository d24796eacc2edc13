"""Charts drawn on the server as SVG: no script library, nothing fetched, printable.

Each function takes plain numbers and already-translated labels and returns markup that is safe
to put in a page (every label is escaped here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

_W = 600
_H = 180
_PAD_L = 36
_PAD_R = 8
_PAD_T = 10
_PAD_B = 24


@dataclass(frozen=True)
class Point:
    """One point of a line chart: its x label and value (None: no data that day)."""

    label: str
    value: float | None


def _x(i: int, n: int) -> float:
    inner = _W - _PAD_L - _PAD_R
    return _PAD_L + (inner * i / (n - 1) if n > 1 else inner / 2)


def _y(value: float, top: float) -> float:
    inner = _H - _PAD_T - _PAD_B
    return _PAD_T + inner * (1 - (value / top if top else 0))


def line_chart(points: Sequence[Point], *, title: str, percent: bool = True) -> Markup:
    """A line over ``points`` (0..1 ratios when ``percent``), gaps where a value is None."""
    top = 1.0 if percent else max((p.value or 0 for p in points), default=1.0) or 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for frac in (0.0, 0.5, 1.0):
        y = _y(top * frac, top)
        label = f"{round(frac * 100)}%" if percent else f"{top * frac:g}"
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde1e8"/>'
            f'<text x="2" y="{y + 4:.1f}">{escape(label)}</text>'
        )
    n = len(points)
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, point in enumerate(points):
        if point.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_x(i, n):.1f},{_y(point.value, top):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) == 1:
            cx, cy = seg[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="#1f5fae"/>')
        else:
            parts.append(
                '<polyline fill="none" stroke="#1f5fae" stroke-width="2" '
                f'points="{" ".join(seg)}"/>'
            )
    for i in sorted({0, n // 2, n - 1}) if n else []:
        parts.append(
            f'<text x="{_x(i, n):.1f}" y="{_H - 6}" text-anchor="middle">'
            f"{escape(points[i].label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above


def status_strip(
    states: Sequence[tuple[str, bool | None]], *, title: str, legend: tuple[str, str, str]
) -> Markup:
    """One coloured cell per sample (green up, red down, grey unknown), oldest first.

    ``states`` are (label, ok) pairs; ``legend`` names up, down and unknown for the tooltip.
    """
    n = max(len(states), 1)
    width = (_W - _PAD_L - _PAD_R) / n
    colours = {True: "#1e7b3c", False: "#b3261e", None: "#b9c0cc"}
    parts = [
        f'<svg class="chart strip" viewBox="0 0 {_W} 28" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for i, (label, ok) in enumerate(states):
        name = legend[0] if ok else legend[1] if ok is False else legend[2]
        parts.append(
            f'<rect x="{_PAD_L + i * width:.2f}" y="4" width="{max(width - 0.5, 0.5):.2f}" '
            f'height="20" fill="{colours[ok]}">'
            f"<title>{escape(label)}: {escape(name)}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - labels are escaped above
