"""Small inline SVG plots for the review and the fidelity report (no script, no network).

Every plot is an ``<svg class="plot">`` with a title, an x axis and a y axis (``<g
class="axis x-axis">`` / ``y-axis``, each with tick marks, tick labels and an axis label) and
a legend when it shows more than one series. Plots scale down with the page (``viewBox``,
``max-width: 100%``), so they never make it scroll sideways. Every text is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
COLOURS = ("#3b6ea8", "#e07b28", "#4d9a57", "#8e5ea2")
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 34, 46


@dataclass(frozen=True)
class Series:
    """One named line or set of bars: x values (numbers) and y values."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks if len(ticks) >= 2 else [first, first + step]


def format_number(value: float) -> str:
    """A number rounded for reading: thousands separated, at most 3 significant decimals."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def date_format(lo: float, hi: float) -> str:
    """The strftime format for epoch-second ticks spanning [lo, hi]."""
    span = hi - lo
    if span > 3 * 365 * 86400:
        return "%Y"
    if span > 90 * 86400:
        return "%Y-%m"
    if span > 3 * 86400:
        return "%Y-%m-%d"
    return "%Y-%m-%d %H:%M"


def format_epoch(value: float, fmt: str = "%Y-%m-%d") -> str:
    """Epoch seconds as a UTC date text (out-of-range values as numbers)."""
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return format_number(value)


def _axis(kind: str, ticks: Sequence[tuple[float, str]], label: str, box: tuple[float, ...]
          ) -> str:
    """An axis line with tick marks and labels; box = (left, top, right, bottom) of the plot
    area, tick positions already in pixels."""
    left, top, right, bottom = box
    out = [f'<g class="axis {kind}-axis" font-size="11" fill="#333">']
    if kind == "x":
        out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#555"/>')
        for pos, text in ticks:
            out.append(f'<line x1="{pos:.1f}" y1="{bottom}" x2="{pos:.1f}" y2="{bottom + 4}" '
                       f'stroke="#555"/><text class="tick" x="{pos:.1f}" y="{bottom + 16}" '
                       f'text-anchor="middle">{_esc(text)}</text>')
        out.append(f'<text class="axis-label" x="{(left + right) / 2:.1f}" y="{bottom + 34}" '
                   f'text-anchor="middle">{_esc(label)}</text>')
    else:
        out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#555"/>')
        for pos, text in ticks:
            out.append(f'<line x1="{left - 4}" y1="{pos:.1f}" x2="{left}" y2="{pos:.1f}" '
                       f'stroke="#555"/><text class="tick" x="{left - 6}" y="{pos + 4:.1f}" '
                       f'text-anchor="end">{_esc(text)}</text>')
        out.append(f'<text class="axis-label" x="{left}" y="{top - 8}" '
                   f'text-anchor="start">{_esc(label)}</text>')
    out.append("</g>")
    return "".join(out)


def _legend(names: Sequence[str], y: float) -> str:
    if len(names) < 2:
        return ""
    out = ['<g class="legend" font-size="11" fill="#333">']
    x = WIDTH - _RIGHT - 120 * len(names)
    for i, name in enumerate(names):
        out.append(f'<rect x="{x + 120 * i}" y="{y - 9}" width="12" height="10" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/><text x="{x + 120 * i + 16}" '
                   f'y="{y}">{_esc(_short(name, 14))}</text>')
    out.append("</g>")
    return "".join(out)


def _svg(height: float, title: str, body: Sequence[str], kind: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot {kind}" role="img" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
            f'style="max-width:100%;height:auto" aria-label="{_esc(title)}">'
            f'<title>{_esc(title)}</title>'
            f'<text class="plot-title" x="4" y="14" font-size="12" font-weight="600" '
            f'fill="#1d2329">{_esc(_short(title, 80))}</text>{"".join(body)}</svg>')


def bar_chart(labels: Sequence[str], series: Sequence[Series], title: str, value_label: str,
              label_title: str = "") -> str:
    """Horizontal bars: one row per label, one bar per series (its ``ys``, aligned with the
    labels), a value axis with ticks at the bottom and the labels as the other axis."""
    bar = 14 if len(series) == 1 else 9
    row = bar * len(series) + 8
    left = 180
    top = _TOP + 8
    height = top + row * len(labels) + _BOTTOM
    bottom = top + row * len(labels)
    right = WIDTH - _RIGHT - 50
    values = [v for s in series for v in s.ys if math.isfinite(v)]
    lo = min(0.0, *values) if values else 0.0
    ticks = nice_ticks(lo, max(values, default=1.0) or 1.0)
    span = (ticks[-1] - ticks[0]) or 1.0

    def px(v: float) -> float:
        return left + (right - left) * (v - ticks[0]) / span

    body = [_legend([s.name for s in series], 26)]
    y_ticks = []
    for i, label in enumerate(labels):
        y0 = top + i * row + 4
        y_ticks.append((y0 + bar * len(series) / 2, _short(label, 26)))
        for j, s in enumerate(series):
            v = s.ys[i]
            w = max(px(v) - px(0.0), 0.5) if math.isfinite(v) else 0.0
            body.append(f'<rect x="{px(0.0):.1f}" y="{y0 + j * bar}" width="{w:.1f}" '
                        f'height="{bar - 2}" fill="{COLOURS[j % len(COLOURS)]}">'
                        f'<title>{_esc(label)} ({_esc(s.name)}): {format_number(v)}</title>'
                        f'</rect>')
            if len(series) == 1:
                body.append(f'<text x="{px(0.0) + w + 4:.1f}" y="{y0 + bar - 3}" '
                            f'font-size="10" fill="#333">{format_number(v)}</text>')
    box = (left, top, right, bottom)
    body.append(_axis("x", [(px(t), format_number(t)) for t in ticks], value_label, box))
    body.append(_axis("y", y_ticks, label_title, box))
    return _svg(height, title, body, "bars")


def cdf_chart(series: Sequence[Series], title: str, x_label: str, dates: bool = False) -> str:
    """Cumulative distribution functions: x values against cumulative shares (0 to 1), one
    line per series, dates (epoch seconds) shown as dates when ``dates``."""
    height = 250
    left, top, right, bottom = _LEFT, _TOP + 10, WIDTH - _RIGHT, height - _BOTTOM
    xs = [x for s in series for x in s.xs if math.isfinite(x)]
    lo, hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    ticks = nice_ticks(lo, hi, 5)
    t_lo, t_hi = min(ticks[0], lo), max(ticks[-1], hi)
    span = (t_hi - t_lo) or 1.0
    fmt = date_format(t_lo, t_hi)

    def px(x: float) -> float:
        return left + (right - left) * (x - t_lo) / span

    def py(p: float) -> float:
        return bottom - (bottom - top) * p

    body = [_legend([s.name for s in series], 26)]
    for j, s in enumerate(series):
        colour = COLOURS[j % len(COLOURS)]
        pts = " ".join(f"{px(x):.1f},{py(p):.1f}" for x, p in zip(s.xs, s.ys, strict=True))
        dash = ' stroke-dasharray="5 3"' if j else ""
        body.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2"'
                    f'{dash} points="{pts}"><title>{_esc(s.name)}</title></polyline>')
    box = (left, top, right, bottom)
    x_ticks = [(px(t), format_epoch(t, fmt) if dates else format_number(t))
               for t in ticks if t_lo <= t <= t_hi]
    body.append(_axis("x", x_ticks, x_label, box))
    body.append(_axis("y", [(py(p), f"{p:.0%}") for p in (0, 0.25, 0.5, 0.75, 1.0)],
                      "cumulative share of rows (CDF)", box))
    return _svg(height, title, body, "cdf")


def _cell_colour(share: float) -> str:
    """White to dark blue."""
    r, g, b = (round(255 - (255 - c) * share) for c in (30, 80, 150))
    return f"rgb({r},{g},{b})"


def heat_map(rows: Sequence[str], cols: Sequence[str], counts: dict[tuple[str, str], float],
             title: str, row_label: str, col_label: str) -> str:
    """A table of counts as coloured cells: ``rows`` down the y axis, ``cols`` along the x
    axis, darker for larger counts, with the count in each cell when cells are wide enough."""
    left = 150
    cell_w = max(14.0, min(60.0, (WIDTH - left - _RIGHT) / max(len(cols), 1)))
    cell_h = 18
    top = _TOP + 8
    bottom = top + cell_h * len(rows)
    right = left + cell_w * len(cols)
    height = bottom + _BOTTOM + 16
    top_count = max(counts.values(), default=0.0) or 1.0
    body = []
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            value = counts.get((r, c))
            share = 0.0 if value is None else max(value, 0.0) / top_count
            x, y = left + j * cell_w, top + i * cell_h
            shown = "-" if value is None else format_number(value)
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{cell_w:.1f}" height="{cell_h}" '
                        f'fill="{_cell_colour(share)}" stroke="#fff"><title>{_esc(r)} / '
                        f'{_esc(c)}: {shown}</title></rect>')
            if cell_w >= 34 and value is not None:
                ink = "#fff" if share > 0.55 else "#1d2329"
                body.append(f'<text x="{x + cell_w / 2:.1f}" y="{y + 13}" font-size="10" '
                            f'text-anchor="middle" fill="{ink}">{shown}</text>')
    box = (left, top, right, bottom)
    step = max(1, math.ceil(len(cols) * 7 * 6 / (right - left)))
    body.append(_axis("x", [(left + (j + 0.5) * cell_w, _short(c, 7)) for j, c in
                            enumerate(cols) if j % step == 0], col_label, box))
    body.append(_axis("y", [(top + (i + 0.5) * cell_h, _short(r, 20)) for i, r in
                            enumerate(rows)], row_label, box))
    body.append(f'<g class="legend" font-size="11" fill="#333"><text x="{left}" '
                f'y="{height - 4}">cell colour: lighter fewer, darker up to '
                f'{format_number(top_count)}</text></g>')
    return _svg(height, title, body, "heatmap")
