"""``synthgate.date_order``: dates made in the order the source keeps them, within a row and
after a parent's dates (``given`` from ``synthgate_builder.parents``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import parse_quantiles
from synthgate_shared.types import parse_type

from synthgate_builder.dist_common import (
    ORDER,
    cell_count,
    marginal,
    number_field,
    result_rows,
    shape_error,
    stratified_uniform,
    to_column,
    type_of,
    where_of,
)

_EPOCH_DATE = dt.date(1970, 1, 1)
ORDER_SHARE = 0.9  # a pair with at least this share of b >= a (or at most 1 - it) is ordered


def epoch_seconds(values: Sequence[Any]) -> np.ndarray:
    """Dates, times (naive ones read as UTC), ISO texts and numbers as float seconds since
    1970; NaN for None and for anything else."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                continue
        if isinstance(value, dt.datetime):
            out[i] = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
        elif isinstance(value, dt.date):
            out[i] = (value - _EPOCH_DATE).days * 86400.0
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[i] = float(value)
    return out


@dataclasses.dataclass(frozen=True)
class _Link:
    """A measured pair seen from the column it makes: ``column`` = ``source`` + d, where d
    has the quantiles (``probs``, ``values``) and ``share`` = P(d >= 0) among ``both`` rows."""

    column: str
    source: str
    both: float
    share: float
    probs: np.ndarray
    values: np.ndarray

    def spread(self) -> float:
        """The interquartile range of d: how closely the column follows its source."""
        q1, q3 = np.interp([0.25, 0.75], self.probs, self.values)
        return float(q3 - q1)



def _links(generator: str, stat_name: str | None, row: dict[str, Any],
           pairs: Sequence[Sequence[str]]) -> list[_Link]:
    """Both directions of every measured pair ``[b, a]`` (``<b>__<a>__both``, ``__ge``,
    ``__le`` counts and ``__dq`` quantiles of b - a); pairs with no rows in common are left
    out."""
    out: list[_Link] = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise shape_error(generator, stat_name, f"pairs are [column, other], not {pair!r}")
        b, a = str(pair[0]), str(pair[1])
        key = f"{b}__{a}"
        both = number_field(generator, stat_name, row, f"{key}__both")
        if both <= 0 or row.get(f"{key}__dq") is None:
            continue
        ge = number_field(generator, stat_name, row, f"{key}__ge")
        le = number_field(generator, stat_name, row, f"{key}__le")
        probs, values = parse_quantiles(row[f"{key}__dq"], where_of(generator, stat_name))
        if not probs:
            continue
        p, v = np.array(probs), np.maximum.accumulate(np.array(values))
        out.append(_Link(b, a, both, min(ge / both, 1.0), p, v))
        out.append(_Link(a, b, both, min(le / both, 1.0), (1.0 - p)[::-1], (-v)[::-1]))
    return out


def _with_knot(link: _Link) -> tuple[np.ndarray, np.ndarray]:
    """The quantile function of d with the point (1 - share, 0) put in, so that a draw is
    negative exactly as often as the source's difference was (ends added at probabilities
    0 and 1 where the released quantiles do not reach across the point)."""
    p0 = 1.0 - link.share
    below, above = link.probs < p0, link.probs > p0
    step = max(1.0, 0.01 * float(link.values[-1] - link.values[0]))
    probs, values = [link.probs[below]], [np.minimum(link.values[below], 0.0)]
    if p0 > 0 and not below.any():
        probs.insert(0, np.array([0.0]))
        values.insert(0, np.array([min(float(link.values[0]), -step)]))
    probs += [np.array([p0]), link.probs[above]]
    values += [np.array([0.0]), np.maximum(link.values[above], 0.0)]
    if p0 < 1 and not above.any():
        probs.append(np.array([1.0]))
        values.append(np.array([max(float(link.values[-1]), step)]))
    return np.concatenate(probs), np.concatenate(values)


def _range(probs: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """The released quantiles' span, extended linearly to probabilities 0 and 1."""
    if len(values) < 2:
        return float(values[0]), float(values[-1])
    lo = values[0] - (values[1] - values[0]) * probs[0] / max(probs[1] - probs[0], 1e-9)
    hi = values[-1] + (values[-1] - values[-2]) * (1 - probs[-1]) / max(
        probs[-1] - probs[-2], 1e-9)
    return float(lo), float(hi)


def _kept_in_order(made: np.ndarray, source: np.ndarray, d: np.ndarray,
                   type_text: str | None) -> np.ndarray:
    """``made`` at its column's resolution (whole days for a date), moved by one unit where
    that resolution would put it on the other side of ``source`` than ``d`` says."""
    if type_text is None or parse_type(type_text).base != "date":
        return made
    days = np.floor(made / 86400.0) * 86400.0
    days = np.where((d >= 0) & (days < source), days + 86400.0, days)
    return np.where((d < 0) & (days >= source), days - 86400.0, days)


def _null_shares(total: float, made_nonnull: float, source_nonnull: float,
                 both: float) -> tuple[float, float]:
    """P(NULL | source known) and P(NULL | source NULL) of the column made from a source."""
    with_source = 1.0 - both / source_nonnull if source_nonnull > 0 else 0.0
    rest = total - source_nonnull
    nulls_rest = (total - made_nonnull) - (source_nonnull - both)
    without = nulls_rest / rest if rest > 0 else 0.0
    return min(max(with_source, 0.0), 1.0), min(max(without, 0.0), 1.0)


def date_order(n: int, rng: np.random.Generator, *, stats: Any,
               columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
               stat_name: str | None = None, pairs: Sequence[Sequence[str]] = (),
               given: dict[str, Sequence[Any]] | None = None,
               **params: Any) -> tuple[list[Any], ...]:
    """Date and time columns of a table that keep the order between them and with their
    parents' dates (statistic ``auto__<t>__order``: one row with ``n``, per column
    ``<c>__nonnull`` and quantiles ``<c>__q``, per pair ``[b, a]`` of ``pairs`` the counts
    ``<b>__<a>__both/ge/le`` and the quantiles ``<b>__<a>__dq`` of b - a in seconds; a
    parent's date ``a`` is named ``<fk columns>__<column>`` and comes in ``given``).

    The columns are made in the order of their medians. Each is tried from its own quantiles
    and from every measured pair with a column already made (or a parent's date) that is
    ordered (share of b >= a at least ``ORDER_SHARE``, or at most 1 - it) or narrower than
    the column itself: that column plus a difference drawn from the released quantiles,
    negative exactly in the source's share, kept within the column's own range where that
    keeps the order. The try whose shares of b >= a over all its measured pairs are
    closest to the source's wins (the narrowest pair on a tie). Rows whose source is NULL
    follow the column's own quantiles; NULLs follow the source's counts."""
    gen = ORDER
    cols = [columns] if isinstance(columns, str) else list(columns or [])
    if not cols:
        raise SynthgateError("assigns one or more columns", where=gen)
    rows = result_rows(gen, stats, stat_name)
    if len(rows) != 1:
        raise shape_error(gen, stat_name, f"the statistic has one row, found {len(rows)}")
    row = rows[0]
    total = cell_count(gen, stat_name, row)
    marginals = {c: marginal(gen, stats, c, "q", {}, stat_name) for c in cols}
    links = _links(gen, stat_name, row, pairs)
    known = {name: epoch_seconds(list(values)) for name, values in (given or {}).items()}
    types_of = {c: type_of(types, i) for i, c in enumerate(cols)}
    nonnull = {c: number_field(gen, stat_name, row, f"{c}__nonnull") for c in cols}
    out: dict[str, np.ndarray] = {}
    for column in sorted(cols, key=lambda c: float(np.interp(0.5, *marginals[c][:2]))):
        probs, values, null_fraction = marginals[column]
        own = float(np.diff(np.interp([0.25, 0.75], probs, values))[0])
        measured = [k for k in links if k.column == column and k.source in known]
        usable = [k for k in measured if k.share >= ORDER_SHARE or k.share <= 1 - ORDER_SHARE
                  or k.spread() < own]
        made = np.interp(stratified_uniform(n, rng), probs, values)
        made[_exact_share(np.ones(n, dtype=bool), null_fraction, rng)] = np.nan
        best, best_score = made, _misorder(made, measured, known)
        for link in sorted(usable, key=_Link.spread):  # the narrowest wins a tie
            source = known[link.source]
            follow = _follow(link, made.copy(), source, probs, values, types_of[column], rng)
            p_with, p_without = _null_shares(total, nonnull[column], number_field(
                gen, stat_name, row, f"{link.source}__nonnull"), link.both)
            has = ~np.isnan(source)
            follow[_exact_share(has, p_with, rng) | _exact_share(~has, p_without, rng)] = np.nan
            score = _misorder(follow, measured, known)
            if score < best_score - 1e-9:
                best, best_score = follow, score
        out[column] = known[column] = best
    return tuple(_nullable_column(out[c], types_of[c]) for c in cols)


def _follow(link: _Link, made: np.ndarray, source: np.ndarray, probs: np.ndarray,
            values: np.ndarray, type_text: str | None, rng: np.random.Generator) -> np.ndarray:
    """``made`` with the rows whose source is known set to source + d (d drawn from the
    link's quantiles, negative in the source's share), within the column's own range
    where that keeps the order."""
    has = ~np.isnan(source)
    d = np.interp(stratified_uniform(int(has.sum()), rng), *_with_knot(link))
    after = source[has] + d
    lo, hi = _range(probs, values)
    clipped = np.clip(after, lo, hi)
    after = np.where((clipped >= source[has]) == (d >= 0), clipped, after)
    made[has] = _kept_in_order(after, source[has], d, type_text)
    return made


def _exact_share(among: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A mask of round(share x count) rows picked at random among the ``among`` rows."""
    rows = np.flatnonzero(among)
    mask = np.zeros(len(among), dtype=bool)
    mask[rng.choice(rows, size=round(share * len(rows)), replace=False)] = True
    return mask


def _misorder(made: np.ndarray, links: list[_Link], known: dict[str, np.ndarray]) -> float:
    """The largest difference between a measured share of b >= a and the made one."""
    worst = 0.0
    for link in links:
        source = known[link.source]
        both = ~np.isnan(made) & ~np.isnan(source)
        if both.any():
            worst = max(worst, abs(float(np.mean(made[both] >= source[both])) - link.share))
    return worst


def _nullable_column(values: np.ndarray, type_text: str | None) -> list[Any]:
    """``_to_column`` of the values that are not NaN; NaN becomes None."""
    result: list[Any] = [None] * len(values)
    present = np.flatnonzero(~np.isnan(values))
    for i, v in zip(present.tolist(), to_column(values[present], type_text), strict=True):
        result[i] = v
    return result


# --- children per parent when every count was suppressed --------------------------------------
