"""The ``src-stats.yaml`` model both sides read: loading, results, profile field names, row
counts and privacy totals.

``src-stats.yaml`` maps each query name to its entry (``query`` or ``dp-query``, ``results``:
a list of row mappings, ``epsilon``/``delta`` for differentially private ones, warnings...)::

    stats = stats_from_data(load_yaml_file(path), str(path))
    rows = results_view(stats)["auto__film__profile"]       # [{"n": 1000, ...}]
    row_count(rows)                                         # 1000
    rows[0][nonnull("rating")]                              # "rating__nonnull"

Field names of a table's profile row (one place, for the agent that writes the SELECT and the
builder that reads it): ``n`` (rows), ``<c>__nonnull``, quantiles ``<c>__q`` and
``<c>__len_q``, per numeric pair ``<a>__<b>__corr`` or ``<a>__<b>__moments``; per date pair
``[b, a]`` ``<b>__<a>__both``, ``__ge``, ``__le`` and the quantiles ``__dq`` of b - a.

Privacy totals use one exact arithmetic: each epsilon and delta is the ``Decimal`` of the
number as written (its shortest repr), so 0.1 + 0.2 is 0.3 in the manifest and in the
budget check alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from synthgate_shared.errors import SynthgateError

COUNT = "n"  # the row count of a profile row, and the count column of proposed statistics

NONNULL = "nonnull"
QUANTILES = "q"
LENGTH_QUANTILES = "len_q"
CORRELATION = "corr"
MOMENTS = "moments"
BOTH = "both"
AT_LEAST = "ge"
AT_MOST = "le"
DIFFERENCE_QUANTILES = "dq"


def field(*parts: str) -> str:
    """A profile field name: the column name(s) and the kind joined by ``__``."""
    return "__".join(parts)


def nonnull(column: str) -> str:
    """``<column>__nonnull``: how many rows have a value in ``column``."""
    return field(column, NONNULL)


def quantiles(column: str) -> str:
    """``<column>__q``: quantiles of a number or date (epoch seconds) column."""
    return field(column, QUANTILES)


def length_quantiles(column: str) -> str:
    """``<column>__len_q``: quantiles of a text column's lengths."""
    return field(column, LENGTH_QUANTILES)


def correlation(a: str, b: str) -> str:
    """``<a>__<b>__corr``: the correlation of two numeric columns (PostgreSQL)."""
    return field(a, b, CORRELATION)


def moments(a: str, b: str) -> str:
    """``<a>__<b>__moments``: ``count,Σa,Σb,Σa²,Σb²,Σab`` of two numeric columns."""
    return field(a, b, MOMENTS)


def stats_from_data(data: Any, where: str = "src-stats.yaml") -> dict[str, Any]:
    """The parsed ``src-stats.yaml`` as a mapping of query name -> entry (empty file: {})."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SynthgateError("src-stats.yaml must be a mapping of query names", where=where)
    return data


def results_view(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Each query's ``results`` (its rows) by query name: what generators read."""
    return {str(name): entry.get("results", []) if isinstance(entry, dict) else entry
            for name, entry in stats.items()}


def row_count(rows: Any) -> int | None:
    """The source row count from a profile statistic's rows (``n`` of its one row), if known."""
    if isinstance(rows, list) and len(rows) == 1 and isinstance(rows[0], dict):
        value = rows[0].get(COUNT)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(round(value), 0)
    return None


def is_private(entry: Any) -> bool:
    """Whether a ``src-stats.yaml`` entry is differentially private (it spends budget)."""
    return isinstance(entry, Mapping) and ("dp-query" in entry or "epsilon" in entry)


def as_written(value: float) -> Decimal:
    """The number as the user wrote it (its shortest repr), so that 0.1 + 0.2 sums to exactly
    0.3: how every privacy total is added."""
    return Decimal(repr(value))


def privacy_totals(spent: Iterable[tuple[float | None, float | None]]
                   ) -> tuple[Decimal, Decimal]:
    """The total epsilon and delta of ``(epsilon, delta)`` pairs under basic composition
    (exact sums of the numbers as written; None counts as 0)."""
    epsilon, delta = Decimal(0), Decimal(0)
    for eps, dlt in spent:
        epsilon += as_written(eps or 0.0)
        delta += as_written(dlt or 0.0)
    return epsilon, delta


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SynthgateError(f"{what} is not a number ({value!r})", where=where)
    return float(value)


def privacy_summary(stats: Mapping[str, Any], where: str = "src-stats.yaml") -> dict[str, Any]:
    """Every differentially private query of ``src-stats.yaml`` with its epsilon and delta,
    and their totals under basic composition (``privacy_totals``): the manifest's ``privacy``."""
    queries: list[dict[str, Any]] = []
    for name, entry in stats.items():
        if not is_private(entry):
            continue
        place = f"{where}: {name}"
        epsilon = _number(entry.get("epsilon"), place, "epsilon")
        delta = _number(entry.get("delta") or 0.0, place, "delta")
        queries.append({"name": str(name), "epsilon": epsilon, "delta": delta})
    epsilon_total, delta_total = privacy_totals((q["epsilon"], q["delta"]) for q in queries)
    return {
        "composition": "basic",
        "queries": queries,
        "total": {"epsilon": float(epsilon_total), "delta": float(delta_total)},
    }
