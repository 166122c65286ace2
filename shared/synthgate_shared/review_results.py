"""How one statistic's results are shown for reading: rounded cells, and a plot where the
shape allows one (quantiles as CDFs with dates, one label + a count as bars ordered by value,
two labels + a count as a heat map). Shared by the review and the fidelity report."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import pair_correlation, parse_quantiles
from synthgate_shared.plots import Series, bar_chart, cdf_chart, format_epoch, format_number
from synthgate_shared.plots import heat_map as heat_map_svg

MAX_CELL_CHARS = 120
MAX_BARS = 30
MAX_HEAT = 20  # categories per side of a heat map
_DATE_TYPES = ("date", "timestamp", "datetime")


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell(value: Any) -> str:
    """One value as short display text (numbers rounded for reading)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(float(value)) if isinstance(value, float) else f"{value:,}"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return f"<{len(data)} bytes> {data[:16].hex()}" + ("…" if len(data) > 16 else "")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return _short(str(value), MAX_CELL_CHARS)


def result_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The column names of result rows, in first-seen order."""
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(str(k) for k in r))
    return list(columns)


def count_column(columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
                 named: str | None = None) -> str | None:
    """The column holding counts: the entry's ``count_column`` when present, else the last
    column whose values are all non-negative numbers."""
    if named in columns:
        return named
    numeric = [c for c in columns
               if rows and all(is_number(r.get(c)) and r[c] >= 0 for r in rows)]
    return numeric[-1] if numeric else None


def distribution_columns(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
                         ) -> tuple[str, str] | None:
    """(label column, value column) when a result looks like a distribution: two columns,
    at least two rows, one of them all non-negative numbers; else None."""
    if len(columns) != 2 or len(rows) < 2:
        return None
    value = count_column(columns, rows)
    if value is None:
        return None
    label = columns[0] if value == columns[1] else columns[1]
    if all(is_number(r.get(label)) and r[label] >= 0 for r in rows) and value == columns[0]:
        return columns[1], columns[0]
    return label, value


def bars_svg(rows: Sequence[Mapping[str, Any]], label: str, value: str, title: str) -> str:
    """Bars of one label column against its counts (at most MAX_BARS): in the order of the
    labels when they are numbers (children per parent), else largest first."""
    if all(is_number(r.get(label)) for r in rows):
        ordered = sorted(rows, key=lambda r: float(r[label]))[:MAX_BARS]
    else:
        ordered = sorted(rows, key=lambda r: (-float(r[value]), cell(r.get(label))))[:MAX_BARS]
    labels = [cell(r.get(label)) for r in ordered]
    return bar_chart(labels, [Series(value, [], [float(r[value]) for r in ordered])],
                     title, f"{value} (count)", label)


def heat_svg(rows: Sequence[Mapping[str, Any]], labels: tuple[str, str], value: str,
             title: str) -> str:
    """A heat map of two label columns against a count (the MAX_HEAT largest of each)."""
    a, b = labels
    counts: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (cell(r.get(a)), cell(r.get(b)))
        counts[key] = counts.get(key, 0.0) + float(r[value])

    def top(i: int) -> list[str]:
        totals: dict[str, float] = {}
        for key, n in counts.items():
            totals[key[i]] = totals.get(key[i], 0.0) + n
        return sorted(totals, key=lambda k: (-totals[k], k))[:MAX_HEAT]

    return heat_map_svg(top(0), top(1), counts, title, a, b)


def plain_plot(name: str, rows: Sequence[Mapping[str, Any]], named_count: str | None
               ) -> str | None:
    """A plot of a result of labels and one count: bars for one label column, a heat map
    for two; None for any other shape."""
    columns = result_columns(rows)
    if len(rows) < 2 or len(columns) not in (2, 3):
        return None
    value = count_column(columns, rows, named_count)
    if value is None:
        return None
    labels = [c for c in columns if c != value]
    if len(labels) == 2:  # a label with one value says nothing: bars of the other
        labels = [c for c in labels if len({cell(r.get(c)) for r in rows}) > 1] or labels[:1]
    if len(labels) == 1:
        return bars_svg(rows, labels[0], value, f"{name}: {value} per {labels[0]}")
    return heat_svg(rows, (labels[0], labels[1]), value,
                    f"{name}: {value} per {labels[0]} and {labels[1]}")


def is_date_type(type_text: str | None) -> bool:
    """Whether an orm.yaml type holds dates (quantiles of it are epoch seconds)."""
    return bool(type_text) and str(type_text).lower().startswith(_DATE_TYPES)


def quantile_text(xs: Sequence[float], ps: Sequence[float], dates: bool) -> str:
    """The 1st, 50th and 99th percentile points (or the nearest known) as text."""
    def at(p: float) -> str:
        i = min(range(len(ps)), key=lambda k: abs(ps[k] - p))
        x = xs[i]
        return f"p{round(ps[i] * 100)} {format_epoch(x) if dates else format_number(x)}"

    return ", ".join(dict.fromkeys(at(p) for p in (0.01, 0.5, 0.99)))


def profile_view(name: str, row: Mapping[str, Any], types: Mapping[str, str]
                 ) -> dict[str, Any]:
    """A profile row for reading: a table of per-column figures (non-null count, quantile
    summary, correlations) and one CDF per quantile field."""
    n = row.get("n")
    figures: list[list[str]] = [["rows", cell(n)]]
    plots: list[str] = []
    for key, value in row.items():
        column, _, what = str(key).rpartition("__")
        if what == "nonnull":
            share = (1 - float(value) / float(n)) if is_number(n) and n and is_number(value) \
                else None
            figures.append([f"{column}: non-null", cell(value) + (
                f" ({share:.1%} NULL)" if share is not None else "")])
        elif what in ("q", "len_q"):
            figures.append([f"{column}: {'length ' if what == 'len_q' else ''}quantiles",
                            _quantile_figure(name, column, what, value, types, plots)])
        elif what in ("corr", "moments"):
            a, _, b = column.partition("__")
            r = pair_correlation(dict(row), a, b)
            figures.append([f"correlation {a} ~ {b}", "n/a" if r is None else f"{r:.3f}"])
        elif str(key) != "n":
            figures.append([str(key), cell(value)])
    return {"figures": figures, "plots": plots}


def _quantile_figure(name: str, column: str, what: str, value: Any,
                     types: Mapping[str, str], plots: list[str]) -> str:
    if value is None:
        return "withheld (too few rows)"
    try:
        ps, xs = parse_quantiles(value, name)
    except SynthgateError as exc:
        return f"unreadable: {exc.what}"
    if not xs:
        return "none"
    dates = what == "q" and is_date_type(types.get(column))
    label = f"length of {column} (characters)" if what == "len_q" else (
        f"{column} (date, UTC)" if dates else column)
    plots.append(cdf_chart([Series("source", xs, ps)], f"CDF of {label}", label, dates))
    return quantile_text(xs, ps, dates) + " (exact percentiles)"
