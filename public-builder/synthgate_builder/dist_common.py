"""What the built-in generators share: reading a statistic's rows and counts, errors that
name the statistic, stratified draws, one-way marginals from released quantiles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from synthgate_shared import srcstats
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import parse_quantiles
from synthgate_shared.types import INTEGER_RANGES, parse_type

COUNT_KEY = srcstats.COUNT
ORDER = "synthgate.date_order"


class StatsUnavailable(SynthgateError):
    """The statistic has no rows left (all suppressed): use the column's default generator."""


def where_of(generator: str, stat_name: str | None) -> str:
    return f"generator {generator}" + (f" (statistic {stat_name!r})" if stat_name else "")


def shape_error(generator: str, stat_name: str | None, detail: str) -> SynthgateError:
    return SynthgateError(
        f"statistic of the wrong shape: {detail}", where=where_of(generator, stat_name),
        fix="use the statistic that generate-config proposed for this generator, or another "
        "generator")


def result_rows(generator: str, stats: Any, stat_name: str | None) -> list[dict[str, Any]]:
    """The statistic's rows, checked to be a non-empty list of mappings."""
    if not isinstance(stats, list) or not all(isinstance(r, dict) for r in stats):
        raise shape_error(generator, stat_name, "expected a list of result rows (mappings), "
                           f"found {type(stats).__name__}")
    if not stats:
        raise StatsUnavailable(
            "the statistic has no rows (all were suppressed as small counts)",
            where=where_of(generator, stat_name),
            fix="the default generator of the column is used instead")
    return stats


def cell_count(generator: str, stat_name: str | None, row: dict[str, Any]) -> float:
    value = row.get(COUNT_KEY)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise shape_error(generator, stat_name, f"every row needs a numeric count "
                           f"{COUNT_KEY!r}, found {row!r:.80}")
    return max(float(value), 0.0)  # DP noise can make a count negative


def allocate(n: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts per category summing to ``n``, as close to ``n * p`` as integers allow
    (floor, then the remainder drawn without replacement by the fractional parts)."""
    p = weights / weights.sum()
    exact = n * p
    counts = np.floor(exact).astype(np.int64)
    rest = n - int(counts.sum())
    if rest > 0:
        frac = exact - counts
        extra = rng.choice(len(p), size=rest, replace=False, p=frac / frac.sum())
        counts[extra] += 1
    return counts


def stratified_uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniforms, one in each of ``n`` equal strata, shuffled (low-variance marginals)."""
    return (rng.permutation(n) + rng.random(n)) / max(n, 1)


def type_of(types: Sequence[str] | None, i: int) -> str | None:
    return types[i] if types is not None and i < len(types) else None


def to_column(values: np.ndarray, type_text: str | None) -> list[Any]:
    """Numbers (epoch seconds for dates) as values of the column's portable type."""
    if type_text is None:
        return [float(v) for v in values]
    ptype = parse_type(type_text)
    base = ptype.base
    if base in INTEGER_RANGES:
        lo, hi = INTEGER_RANGES[base]
        return [int(v) for v in np.clip(np.rint(values), lo, hi)]
    if base == "numeric":
        scale = ptype.params[1] if len(ptype.params) == 2 else 6
        return [float(v) for v in np.round(values, scale)]
    if base == "date":
        return list(np.floor(values / 86400).astype("int64").astype("datetime64[D]").tolist())
    if base in ("timestamp", "timestamptz"):
        stamps = np.rint(values * 1e6).astype("int64").astype("datetime64[us]").tolist()
        if base == "timestamptz":
            return [s.replace(tzinfo=dt.UTC) for s in stamps]
        return list(stamps)
    if base in ("char", "varchar", "text"):
        return [str(v) for v in values]
    return [float(v) for v in values]


Marginal = tuple[np.ndarray, np.ndarray, float]


def marginal(generator: str, stats: Any, column: str, suffix: str, params: dict[str, Any],
             stat_name: str | None) -> Marginal:
    """(probabilities, values, null fraction) of a column: a piecewise-linear inverse CDF.

    From a histogram (rows ``{bin, n}`` with ``lower``/``upper``/``bins`` params; a NULL bin
    counts the nulls) or from a profile row (``<column>__<suffix>`` quantiles,
    ``n`` and ``<column>__nonnull``).
    """
    rows = result_rows(generator, stats, stat_name)
    if "bins" in params:
        return _histogram_marginal(generator, rows, params, stat_name)
    return _profile_marginal(generator, rows, column, suffix, stat_name)


def _histogram_marginal(generator: str, rows: list[dict[str, Any]], params: dict[str, Any],
                        stat_name: str | None) -> Marginal:
    """The marginal of a differentially private histogram (``bin``, ``n`` rows)."""
    try:
        lower, upper, bins = float(params["lower"]), float(params["upper"]), int(params["bins"])
    except (KeyError, TypeError, ValueError):
        raise shape_error(generator, stat_name, "a histogram needs numbers lower, upper "
                           "and bins") from None
    counts = np.zeros(bins)
    nulls = 0.0
    for row in rows:
        if "bin" not in row:
            raise shape_error(generator, stat_name, "histogram rows need 'bin' and 'n'")
        if row["bin"] is None:
            nulls += cell_count(generator, stat_name, row)
        elif isinstance(row["bin"], int) and 0 <= row["bin"] < bins:
            counts[row["bin"]] += cell_count(generator, stat_name, row)
    total = counts.sum() + nulls
    if total <= 0:
        raise StatsUnavailable("the histogram is empty", where=where_of(generator, stat_name))
    if counts.sum() <= 0:
        return np.array([0.0, 1.0]), np.array([lower, upper]), 1.0
    cdf = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    return cdf, np.linspace(lower, upper, bins + 1), nulls / total


def _profile_marginal(generator: str, rows: list[dict[str, Any]], column: str, suffix: str,
                      stat_name: str | None) -> Marginal:
    """The marginal of a column from the quantiles and counts of its table's profile row."""
    if len(rows) != 1:
        raise shape_error(generator, stat_name, f"a profile has one row, found {len(rows)}")
    row = rows[0]
    key = srcstats.field(column, suffix)
    if key not in row or COUNT_KEY not in row:
        raise shape_error(generator, stat_name, f"the profile has no {key!r} for column "
                           f"{column!r}")
    n = cell_count(generator, stat_name, row)
    nonnull = row.get(srcstats.nonnull(column), n)
    null_fraction = 1.0 - float(nonnull) / n if n > 0 and nonnull is not None else 0.0
    if row[key] is None:
        if nonnull:  # values there, quantiles withheld: a table below min-count rows
            raise StatsUnavailable(
                f"the quantiles of {column!r} were withheld (fewer than min-count rows)",
                where=where_of(generator, stat_name),
                fix="the default generator of the column is used instead")
        return np.array([0.0, 1.0]), np.array([0.0, 0.0]), 1.0
    probs, values = parse_quantiles(row[key], where_of(generator, stat_name))
    if not probs:
        return np.array([0.0, 1.0]), np.array([0.0, 0.0]), 1.0
    return (np.array(probs), np.maximum.accumulate(np.array(values)),
            min(max(null_fraction, 0.0), 1.0))


def with_nulls(values: list[Any], null_fraction: float, rng: np.random.Generator) -> list[Any]:
    """Exactly ``null_fraction`` of the values (rounded) set to None, at random places."""
    if null_fraction <= 0:
        return values
    out = list(values)
    for i in rng.choice(len(out), size=round(len(out) * null_fraction), replace=False).tolist():
        out[i] = None
    return out



def number_field(generator: str, stat_name: str | None, row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise shape_error(generator, stat_name, f"the row needs a number {key!r}")
    return max(float(value), 0.0)


