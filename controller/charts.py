"""Charts drawn on the server as SVG: no script library, nothing fetched, printable.

Each function takes plain numbers and already-translated labels and returns markup that is safe
to put in a page (every label is escaped here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class Line:
    """One named series of a chart (its points share the x labels of the first series)."""

    name: str
    points: Sequence[Point]


#: Series colours, in order: distinct in print and for the common colour blindnesses.
PALETTE = ("#1f5fae", "#c05a00", "#1e7b3c", "#7b3fa0", "#b3261e", "#4d5b6a")


def _top(series: Sequence[Line], percent: bool, headroom: float = 1.0) -> float:
    if percent:
        return 1.0
    top = max((p.value or 0 for line in series for p in line.points), default=1.0) or 1.0
    return top * headroom


def _open(title: str, height: int, font: str | None) -> list[str]:
    # Presentation attributes: the dashboard's stylesheet overrides them, print keeps them.
    style = ' font-size="11" fill="#5b6573"'
    style += f' font-family="{escape(font)}"' if font else ""
    return [
        f'<svg class="chart" viewBox="0 0 {_W} {height}" role="img"{style} '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]


def _grid(top: float, percent: bool) -> list[str]:
    parts = []
    for frac in (0.0, 0.5, 1.0):
        y = _y(top * frac, top)
        label = f"{round(frac * 100)}%" if percent else _axis(top * frac, top)
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde1e8"/>'
            f'<text x="2" y="{y + 4:.1f}">{escape(label)}</text>'
        )
    return parts


def _axis(value: float, top: float) -> str:
    # Whole numbers once the scale is large enough; small scales keep their decimals.
    return f"{value:.0f}" if top >= 10 else f"{value:g}"


def _legend(series: Sequence[Line]) -> list[str]:
    # Under the x labels, one swatch and name per series (only when there are several).
    if len(series) < 2:
        return []
    parts = []
    x = float(_PAD_L)
    for i, line in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.1f}" y="{_H + 6}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.1f}" y="{_H + 15}">{escape(line.name)}</text>'
        )
        x += 24 + 7 * len(line.name)
    return parts


def line_chart(points: Sequence[Point], *, title: str, percent: bool = True) -> Markup:
    """A line over ``points`` (0..1 ratios when ``percent``), gaps where a value is None."""
    return lines_chart([Line(title, points)], title=title, percent=percent)


def lines_chart(
    series: Sequence[Line], *, title: str, percent: bool = True, font: str | None = None
) -> Markup:
    """One line per series (0..1 ratios when ``percent``), gaps where a value is None, a
    legend when there are several; ``font`` names the font family of the labels (print)."""
    top = _top(series, percent)
    height = _H + (22 if len(series) > 1 else 0)
    parts = _open(title, height, font) + _grid(top, percent)
    points = series[0].points if series else []
    n = len(points)
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, point in enumerate(line.points):
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
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
            else:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(seg)}"/>'
                )
    for i in sorted({0, n // 2, n - 1}) if n else []:
        parts.append(
            f'<text x="{_x(i, n):.1f}" y="{_H - 6}" text-anchor="middle">'
            f"{escape(points[i].label)}</text>"
        )
    parts += _legend(series)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above


def bar_chart(
    series: Sequence[Line],
    *,
    title: str,
    percent: bool = True,
    font: str | None = None,
    value_label: Callable[[float], str] | None = None,
) -> Markup:
    """Grouped bars: one group per x label, one bar per series (0..1 ratios when
    ``percent``); ``value_label`` writes each bar's value above it."""
    # Room above the highest bar for its value.
    top = _top(series, percent, 1.12 if value_label else 1.0)
    height = _H + (22 if len(series) > 1 else 0)
    parts = _open(title, height, font) + _grid(top, percent)
    labels = [p.label for p in series[0].points] if series else []
    n = max(len(labels), 1)
    group = (_W - _PAD_L - _PAD_R) / n
    width = group * 0.8 / max(len(series), 1)
    # Label every group while they fit, then every k-th one.
    step = max(1, round(len(labels) / 12))
    for i, label in enumerate(labels):
        left = _PAD_L + i * group + group * 0.1
        for index, line in enumerate(series):
            value = line.points[i].value if i < len(line.points) else None
            if value is None:
                continue
            x = left + index * width
            y = _y(value, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width - 1, 0.5):.1f}" '
                f'height="{_y(0, top) - y:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
                f"<title>{escape(line.name)} {escape(label)}</title></rect>"
            )
            if value_label is not None:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
                    f"{escape(value_label(value))}</text>"
                )
        if i % step == 0:
            parts.append(
                f'<text x="{_PAD_L + (i + 0.5) * group:.1f}" y="{_H - 6}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts += _legend(series)
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
