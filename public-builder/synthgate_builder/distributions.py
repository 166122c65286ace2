"""Built-in generators that follow the proposed aggregate statistics, seeded and vectorised.

Column generators have the signature ``fn(n, rng, *, stats, columns, types=None, **params)``
and return a batch of ``n`` values (one column) or a tuple of lists (several columns).
``stats`` is ``SRC_STATS["auto__..."]`` (the result rows of one statistic), ``columns`` the
``columns_assigned`` of the row generator and ``types`` their portable types from
``orm.yaml`` (the caller passes both, so ``config.yaml`` only names the statistic).
``children_per_parent(parent_keys, rng, stats, total=None)`` picks foreign-key values
(``children_from_share`` and ``children_from_counts`` when its counts were suppressed).
A column generator whose kwargs hold ``parents: {name: {fk: [child columns], column: c}}``
runs after the row's foreign keys are drawn and gets ``given={name: [each row's parent's c]}``
(``synthgate_builder.parents``; ``date_order`` uses it for parents' dates).

A statistic whose rows were all suppressed (fewer than ``min-count``) raises
``StatsUnavailable``: the caller then falls back to the default generator of the column.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr
from synthgate_shared.config import DEFAULT_MIN_COUNT
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import TEXT_DATE_FORMATS, pair_correlation, parse_quantiles
from synthgate_shared.types import INTEGER_RANGES, parse_type

COUNT_KEY = "n"
ORDER = "synthgate.date_order"
_WORDS = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
    "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna",
    "aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco",
    "laboris", "nisi", "aliquip", "ex", "ea", "commodo", "consequat", "duis", "aute",
    "irure", "in", "reprehenderit", "voluptate", "velit", "esse", "cillum", "fugiat",
    "nulla", "pariatur", "excepteur", "sint", "occaecat", "cupidatat", "non", "proident",
    "sunt", "culpa", "qui", "officia", "deserunt", "mollit", "anim", "id", "est", "laborum",
)


class StatsUnavailable(SynthgateError):
    """The statistic has no rows left (all suppressed): use the column's default generator."""


def _where(generator: str, stat_name: str | None) -> str:
    return f"generator {generator}" + (f" (statistic {stat_name!r})" if stat_name else "")


def _shape_error(generator: str, stat_name: str | None, detail: str) -> SynthgateError:
    return SynthgateError(
        f"statistic of the wrong shape: {detail}", where=_where(generator, stat_name),
        fix="use the statistic that generate-config proposed for this generator, or another "
        "generator")


def _rows(generator: str, stats: Any, stat_name: str | None) -> list[dict[str, Any]]:
    """The statistic's rows, checked to be a non-empty list of mappings."""
    if not isinstance(stats, list) or not all(isinstance(r, dict) for r in stats):
        raise _shape_error(generator, stat_name, "expected a list of result rows (mappings), "
                           f"found {type(stats).__name__}")
    if not stats:
        raise StatsUnavailable(
            "the statistic has no rows (all were suppressed as small counts)",
            where=_where(generator, stat_name),
            fix="the default generator of the column is used instead")
    return stats


def _count(generator: str, stat_name: str | None, row: dict[str, Any]) -> float:
    value = row.get(COUNT_KEY)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _shape_error(generator, stat_name, f"every row needs a numeric count "
                           f"{COUNT_KEY!r}, found {row!r:.80}")
    return max(float(value), 0.0)  # DP noise can make a count negative


def _allocate(n: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def _stratified_uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniforms, one in each of ``n`` equal strata, shuffled (low-variance marginals)."""
    return (rng.permutation(n) + rng.random(n)) / max(n, 1)


def _type_of(types: Sequence[str] | None, i: int) -> str | None:
    return types[i] if types is not None and i < len(types) else None


def _to_column(values: np.ndarray, type_text: str | None) -> list[Any]:
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


def _marginal(generator: str, stats: Any, column: str, suffix: str, params: dict[str, Any],
              stat_name: str | None) -> tuple[np.ndarray, np.ndarray, float]:
    """(probabilities, values, null fraction) of a column: a piecewise-linear inverse CDF.

    From a histogram (rows ``{bin, n}`` with ``lower``/``upper``/``bins`` params; a NULL bin
    counts the nulls) or from a profile row (``<column>__<suffix>`` quantiles,
    ``n`` and ``<column>__nonnull``).
    """
    rows = _rows(generator, stats, stat_name)
    if "bins" in params:
        try:
            lower, upper, bins = float(params["lower"]), float(params["upper"]), int(params["bins"])
        except (KeyError, TypeError, ValueError):
            raise _shape_error(generator, stat_name, "a histogram needs numbers lower, upper "
                               "and bins") from None
        counts = np.zeros(bins)
        nulls = 0.0
        for row in rows:
            if "bin" not in row:
                raise _shape_error(generator, stat_name, "histogram rows need 'bin' and 'n'")
            if row["bin"] is None:
                nulls += _count(generator, stat_name, row)
            elif isinstance(row["bin"], int) and 0 <= row["bin"] < bins:
                counts[row["bin"]] += _count(generator, stat_name, row)
        total = counts.sum() + nulls
        if total <= 0:
            raise StatsUnavailable("the histogram is empty", where=_where(generator, stat_name))
        if counts.sum() <= 0:
            return np.array([0.0, 1.0]), np.array([lower, upper]), 1.0
        cdf = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
        return cdf, np.linspace(lower, upper, bins + 1), nulls / total
    if len(rows) != 1:
        raise _shape_error(generator, stat_name, f"a profile has one row, found {len(rows)}")
    row = rows[0]
    key = f"{column}__{suffix}"
    if key not in row or COUNT_KEY not in row:
        raise _shape_error(generator, stat_name, f"the profile has no {key!r} for column "
                           f"{column!r}")
    n = _count(generator, stat_name, row)
    nonnull = row.get(f"{column}__nonnull", n)
    null_fraction = 1.0 - float(nonnull) / n if n > 0 and nonnull is not None else 0.0
    if row[key] is None:
        if nonnull:  # values there, quantiles withheld: a table below min-count rows
            raise StatsUnavailable(
                f"the quantiles of {column!r} were withheld (fewer than min-count rows)",
                where=_where(generator, stat_name),
                fix="the default generator of the column is used instead")
        return np.array([0.0, 1.0]), np.array([0.0, 0.0]), 1.0
    probs, values = parse_quantiles(row[key], _where(generator, stat_name))
    if not probs:
        return np.array([0.0, 1.0]), np.array([0.0, 0.0]), 1.0
    return np.array(probs), np.maximum.accumulate(np.array(values)), min(max(null_fraction,
                                                                             0.0), 1.0)


def _with_nulls(values: list[Any], null_fraction: float, rng: np.random.Generator) -> list[Any]:
    """Exactly ``null_fraction`` of the values (rounded) set to None, at random places."""
    if null_fraction <= 0:
        return values
    out = list(values)
    for i in rng.choice(len(out), size=round(len(out) * null_fraction), replace=False).tolist():
        out[i] = None
    return out


def _one_column(generator: str, columns: Sequence[str] | str | None) -> str:
    cols = [columns] if isinstance(columns, str) else list(columns or [])
    if len(cols) != 1:
        raise SynthgateError(f"assigns exactly one column, got {cols}", where=generator,
                             fix="give one column in columns_assigned")
    return cols[0]


def _as_text(values: np.ndarray, gen: str, stat_name: str | None, places: Any,
             date_format: Any) -> list[Any]:
    """Numbers written as the source writes them in a text column: ``places`` decimal
    places (0: integers), or epoch seconds as dates in ``date_format`` (one of
    ``TEXT_DATE_FORMATS``)."""
    if date_format is not None:
        if date_format not in TEXT_DATE_FORMATS.values():
            raise _shape_error(gen, stat_name, f"date_format {date_format!r} is not one of "
                               f"{', '.join(TEXT_DATE_FORMATS.values())}")
        epoch = dt.datetime(1970, 1, 1)
        return [(epoch + dt.timedelta(seconds=float(v))).strftime(date_format)
                for v in np.rint(values)]
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 30:
        raise _shape_error(gen, stat_name, f"places must be an integer 0..30, not {places!r}")
    return [f"{v:.{places}f}" for v in np.round(values, places)]


def quantiles(n: int, rng: np.random.Generator, *, stats: Any,
              columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
              stat_name: str | None = None, places: int | None = None,
              date_format: str | None = None, **params: Any) -> list[Any]:
    """Values of one numeric or date column drawn from its quantiles (or DP histogram) by
    inverse transform of stratified uniforms, with the source's null fraction. A number or
    date kept in a text column is written back as text: with ``places`` decimal places, or
    in ``date_format`` (the quantiles are then epoch seconds)."""
    gen = "synthgate.quantiles"
    column = _one_column(gen, columns)
    probs, values, nulls = _marginal(gen, stats, column, "q", params, stat_name)
    drawn = np.interp(_stratified_uniform(n, rng), probs, values)
    if places is not None or date_format is not None:
        return _with_nulls(_as_text(drawn, gen, stat_name, places, date_format), nulls, rng)
    return _with_nulls(_to_column(drawn, _type_of(types, 0)), nulls, rng)


def text_length(n: int, rng: np.random.Generator, *, stats: Any,
                columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
                stat_name: str | None = None, **params: Any) -> list[Any]:
    """Placeholder text (lorem ipsum words) whose lengths follow the source's length
    quantiles (or DP histogram), within ``varchar(n)``, with the source's null fraction."""
    gen = "synthgate.text_length"
    column = _one_column(gen, columns)
    probs, values, nulls = _marginal(gen, stats, column, "len_q", params, stat_name)
    lengths = np.rint(np.interp(_stratified_uniform(n, rng), probs, values)).astype(np.int64)
    type_text = _type_of(types, 0)
    limit = parse_type(type_text).length if type_text else None
    lengths = np.clip(lengths, 0, limit if limit is not None else None)
    words = rng.choice(_WORDS, size=int(lengths.sum()) // 4 + int(lengths.max(initial=0)) + 16)
    text = " ".join(words.tolist())
    starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(text.encode(), np.uint8) == 32)
                             + 1])
    offsets = rng.choice(starts[starts < len(text) // 2], size=n)
    out = []
    for off, length in zip(offsets.tolist(), lengths.tolist(), strict=True):
        piece = text[off:off + length]
        out.append(piece[:-1] + "s" if piece.endswith(" ") else piece)
    return _with_nulls(out, nulls, rng)


def categorical(n: int, rng: np.random.Generator, *, stats: Any,
                columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
                stat_name: str | None = None, **params: Any) -> list[Any]:
    """Values in the source's proportions (rows ``{<value column>: v, n: count}``; a NULL
    value counts the nulls); rare values suppressed at the source never appear."""
    gen = "synthgate.categorical"
    _one_column(gen, columns)
    rows = _rows(gen, stats, stat_name)
    if any(len(r) != 2 or COUNT_KEY not in r for r in rows):
        raise _shape_error(gen, stat_name, "expected rows of one value and a count 'n'")
    values = [next(v for k, v in r.items() if k != COUNT_KEY) for r in rows]
    weights = np.array([_count(gen, stat_name, r) for r in rows])
    if weights.sum() <= 0:
        raise StatsUnavailable("every count is zero", where=_where(gen, stat_name))
    index = np.repeat(np.arange(len(rows)), _allocate(n, weights, rng))
    return [values[i] for i in rng.permutation(index)]


def joint_categorical(n: int, rng: np.random.Generator, *, stats: Any,
                      columns: Sequence[str] | str | None = None,
                      types: Sequence[str] | None = None, stat_name: str | None = None,
                      **params: Any) -> tuple[list[Any], ...]:
    """Combinations of several low-cardinality columns in the source's joint proportions
    (rows ``{<col1>: v1, <col2>: v2, n: count}``); returns one list per column."""
    gen = "synthgate.joint_categorical"
    cols = [columns] if isinstance(columns, str) else list(columns or [])
    if len(cols) < 2:
        raise SynthgateError("assigns two or more columns", where=gen,
                             fix="list the columns of the statistic in columns_assigned")
    rows = _rows(gen, stats, stat_name)
    missing = [c for c in cols if c not in rows[0]]
    if missing:
        raise _shape_error(gen, stat_name, f"the rows have no column {missing[0]!r}")
    weights = np.array([_count(gen, stat_name, r) for r in rows])
    if weights.sum() <= 0:
        raise StatsUnavailable("every count is zero", where=_where(gen, stat_name))
    index = rng.permutation(np.repeat(np.arange(len(rows)), _allocate(n, weights, rng)))
    return tuple([rows[i][c] for i in index] for c in cols)


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """The matrix with negative eigenvalues clipped, rescaled to a unit diagonal."""
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    fixed = vecs @ np.diag(np.clip(vals, 1e-6, None)) @ vecs.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


def gaussian_copula(n: int, rng: np.random.Generator, *, stats: Any,
                    columns: Sequence[str] | str | None = None,
                    types: Sequence[str] | None = None, stat_name: str | None = None,
                    **params: Any) -> tuple[list[Any], ...]:
    """Several numeric/date columns with their own quantiles, tied by a Gaussian copula whose
    correlations are the source's aggregate correlations (so an end date stays after a start
    date about as often as in the source)."""
    gen = "synthgate.gaussian_copula"
    cols = [columns] if isinstance(columns, str) else list(columns or [])
    if not cols:
        raise SynthgateError("assigns one or more columns", where=gen)
    marginals = [_marginal(gen, stats, c, "q", params, stat_name) for c in cols]
    row = stats[0]
    corr = np.eye(len(cols))
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            r = pair_correlation(row, a, cols[j])
            if r is not None and np.isfinite(r):
                # Pearson r of the values -> the normal-scores correlation (Kruskal 1958)
                corr[i, j] = corr[j, i] = float(np.clip(2 * np.sin(np.pi * r / 6), -1, 1))
    z = rng.standard_normal((n, len(cols))) @ np.linalg.cholesky(_nearest_correlation(corr)).T
    u = ndtr(z)
    out = []
    for i, (probs, values, nulls) in enumerate(marginals):
        drawn = np.interp(u[:, i], probs, values)
        out.append(_with_nulls(_to_column(drawn, _type_of(types, i)), nulls, rng))
    return tuple(out)


def _rare_counts(m: int, children: int, kept: set[int], cap: int) -> np.ndarray:
    """Children counts of ``m`` parents whose counts were suppressed at the source: values
    that are not among the kept ones, each used at most ``cap`` times (as rare as at the
    source), picked alternately below and above the mean, then moved outwards one by one
    until they add up to ``children`` where the cap allows."""
    mean = children / m
    below = (k for k in range(int(np.floor(mean)), -1, -1) if k not in kept)
    above = (k for k in range(int(np.floor(mean)) + 1, 2**62) if k not in kept)
    out: list[int] = []
    used: dict[int, int] = {}
    side_below: int | None = next(below, None)
    side_above = next(above)
    placed = 0
    while len(out) < m:
        take_below = side_below is not None and placed > mean * len(out)
        k = side_below if take_below and side_below is not None else side_above
        out.append(k)
        placed += k
        used[k] = used.get(k, 0) + 1
        if used[k] >= cap:
            if k == side_below:
                side_below = next(below, None)
            else:
                side_above = next(above)
    diff = children - placed
    step = 1 if diff > 0 else -1
    while diff != 0:  # move single parents outwards onto free rare counts until the sum fits
        moved = False
        for i in sorted(range(m), key=lambda j: -step * out[j]):
            v, w = out[i], out[i] + step
            if w >= 0 and w not in kept and used.get(w, 0) < cap:
                out[i] = w
                used[v] -= 1
                used[w] = used.get(w, 0) + 1
                diff -= step
                moved = True
                if diff == 0:
                    break
        if not moved:
            break  # no room left (counts cannot go below 0): _adjust takes the rest
    return np.array(out, dtype=np.int64)


def _adjust(per_parent: np.ndarray, total: int, among: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Add or take single children from parents (preferably those in ``among``, else any)
    until the counts add up to ``total``."""
    per_parent = per_parent.copy()
    diff = total - int(per_parent.sum())
    for pool in (among, np.arange(len(per_parent))):
        while diff != 0 and len(pool):
            if diff > 0:
                picked = rng.choice(pool, size=min(diff, len(pool)), replace=False)
                per_parent[picked] += 1
                diff -= len(picked)
            else:
                able = pool[per_parent[pool] > 0]
                if not len(able):
                    break
                picked = rng.choice(able, size=min(-diff, len(able)), replace=False)
                per_parent[picked] -= 1
                diff += len(picked)
    return per_parent


def children_per_parent(parent_keys: Sequence[Any], rng: np.random.Generator, stats: Any,
                        total: int | None = None, stat_name: str | None = None,
                        parents_total: int | None = None,
                        min_count: int = DEFAULT_MIN_COUNT) -> list[Any]:
    """Foreign-key values for the children of ``parent_keys`` (in random order), so that the
    number of children per parent follows the source (rows ``{n_children, n}``).

    Without ``total`` the number of children is what the distribution implies for this many
    parents. With ``total`` there are exactly ``total`` children: when ``parents_total``
    (the source's parent count) says that some parents' counts were suppressed, that share
    of the parents gets the remaining children spread over rare counts (fewer than
    ``min_count`` parents each, none of the kept counts), so the kept counts keep their
    shares; what is left over moves single children between parents.
    """
    gen = "synthgate.children_per_parent"
    rows = _rows(gen, stats, stat_name)
    ks, weights = [], []
    for row in rows:
        k = row.get("n_children")
        if isinstance(k, bool) or not isinstance(k, int | float) or k < 0:
            raise _shape_error(gen, stat_name, "rows need a count 'n_children' >= 0 and 'n'")
        ks.append(int(k))
        weights.append(_count(gen, stat_name, row))
    weight_arr = np.array(weights)
    if weight_arr.sum() <= 0:
        raise StatsUnavailable("every count is zero", where=_where(gen, stat_name))
    n_parents = len(parent_keys)
    if n_parents == 0:
        if total:
            raise SynthgateError(f"{total} children need parents, but there are none",
                                 where=_where(gen, stat_name))
        return []
    kept_share = 1.0
    if total is not None and parents_total and parents_total > weight_arr.sum():
        kept_share = float(weight_arr.sum()) / parents_total
    n_kept = round(n_parents * kept_share)
    per_parent = np.repeat(np.array(ks, dtype=np.int64), _allocate(n_kept, weight_arr, rng))
    rare = np.arange(n_kept, n_parents)
    if total is not None:
        left = total - int(per_parent.sum())
        if len(rare) and left >= 0:
            extra = _rare_counts(len(rare), left, set(ks), max(min_count - 1, 1))
        else:
            extra = np.zeros(len(rare), dtype=np.int64)
        per_parent = _adjust(np.concatenate([per_parent, extra]), total, rare, rng)
    per_parent = rng.permutation(per_parent)
    index = rng.permutation(np.repeat(np.arange(n_parents), per_parent))
    return [parent_keys[i] for i in index.tolist()]


# --- dependent dates (synthgate.date_order) ---------------------------------------------------

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


def _number(generator: str, stat_name: str | None, row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _shape_error(generator, stat_name, f"the row needs a number {key!r}")
    return max(float(value), 0.0)


def _links(generator: str, stat_name: str | None, row: dict[str, Any],
           pairs: Sequence[Sequence[str]]) -> list[_Link]:
    """Both directions of every measured pair ``[b, a]`` (``<b>__<a>__both``, ``__ge``,
    ``__le`` counts and ``__dq`` quantiles of b - a); pairs with no rows in common are left
    out."""
    out: list[_Link] = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise _shape_error(generator, stat_name, f"pairs are [column, other], not {pair!r}")
        b, a = str(pair[0]), str(pair[1])
        key = f"{b}__{a}"
        both = _number(generator, stat_name, row, f"{key}__both")
        if both <= 0 or row.get(f"{key}__dq") is None:
            continue
        ge = _number(generator, stat_name, row, f"{key}__ge")
        le = _number(generator, stat_name, row, f"{key}__le")
        probs, values = parse_quantiles(row[f"{key}__dq"], _where(generator, stat_name))
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
    rows = _rows(gen, stats, stat_name)
    if len(rows) != 1:
        raise _shape_error(gen, stat_name, f"the statistic has one row, found {len(rows)}")
    row = rows[0]
    total = _count(gen, stat_name, row)
    marginals = {c: _marginal(gen, stats, c, "q", {}, stat_name) for c in cols}
    links = _links(gen, stat_name, row, pairs)
    known = {name: epoch_seconds(list(values)) for name, values in (given or {}).items()}
    types_of = {c: _type_of(types, i) for i, c in enumerate(cols)}
    nonnull = {c: _number(gen, stat_name, row, f"{c}__nonnull") for c in cols}
    out: dict[str, np.ndarray] = {}
    for column in sorted(cols, key=lambda c: float(np.interp(0.5, *marginals[c][:2]))):
        probs, values, null_fraction = marginals[column]
        own = float(np.diff(np.interp([0.25, 0.75], probs, values))[0])
        measured = [k for k in links if k.column == column and k.source in known]
        usable = [k for k in measured if k.share >= ORDER_SHARE or k.share <= 1 - ORDER_SHARE
                  or k.spread() < own]
        made = np.interp(_stratified_uniform(n, rng), probs, values)
        made[_exact_share(np.ones(n, dtype=bool), null_fraction, rng)] = np.nan
        best, best_score = made, _misorder(made, measured, known)
        for link in sorted(usable, key=_Link.spread):  # the narrowest wins a tie
            source = known[link.source]
            follow = _follow(link, made.copy(), source, probs, values, types_of[column], rng)
            p_with, p_without = _null_shares(total, nonnull[column], _number(
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
    d = np.interp(_stratified_uniform(int(has.sum()), rng), *_with_knot(link))
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
    for i, v in zip(present.tolist(), _to_column(values[present], type_text), strict=True):
        result[i] = v
    return result


# --- children per parent when every count was suppressed --------------------------------------

def children_from_share(parent_keys: Sequence[Any], rng: np.random.Generator, summary: Any,
                        total: int, stat_name: str | None = None) -> list[Any]:
    """Foreign-key values for ``total`` children when the children-per-parent counts were
    all suppressed: the parents' share that has any child (``used / parents`` of the one row
    of ``auto__<t>__<fk>__parents``) gets them, at least one each and the rest spread
    evenly at random; the others get none. Never a uniform draw over all the parents."""
    gen = "synthgate.children_per_parent"
    rows = _rows(gen, summary, stat_name)
    parents = _number(gen, stat_name, rows[0], "parents")
    used_share = _number(gen, stat_name, rows[0], "used") / parents if parents else 1.0
    n_parents = len(parent_keys)
    if total <= 0 or n_parents == 0:
        return []
    used = int(min(max(round(n_parents * min(used_share, 1.0)), 1), n_parents, total))
    chosen = rng.choice(n_parents, size=used, replace=False)
    per_parent = 1 + rng.multinomial(total - used, np.full(used, 1.0 / used))
    index = rng.permutation(np.repeat(chosen, per_parent))
    return [parent_keys[i] for i in index.tolist()]


def _pooled(count: int, children: int, rng: np.random.Generator,
            shape: Sequence[tuple[int, float]] = (), min_count: int = DEFAULT_MIN_COUNT
            ) -> np.ndarray:
    """``children`` shared by ``count`` parents whose counts were suppressed (in random
    order): the parents of ``shape`` (children count, parents: released counts of these
    parents) as released, the others on rare counts (``_rare_counts``: fewer than
    ``min_count`` parents each, none of the released counts), adjusted to the total."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    ks = np.array([k for k, _ in shape], dtype=np.int64)
    weights = np.array([w for _, w in shape])
    if weights.sum() <= count:
        kept = np.repeat(ks, np.round(weights).astype(np.int64))
    else:  # more parents than these (another scale): the shape's shares
        kept = np.repeat(ks, _allocate(count, weights, rng))
    rest, left = count - len(kept), max(children - int(kept.sum()), 0)
    share = np.concatenate([kept, _rare_counts(rest, left, set(ks.tolist()),
                                               max(min_count - 1, 1))
                            if rest and left else np.zeros(rest, dtype=np.int64)])
    return rng.permutation(_adjust(share.astype(np.int64), children, np.arange(count), rng))


def children_from_counts(parent_keys: Sequence[tuple[Any, ...]], rng: np.random.Generator,
                         counts: Any, total: int, key_columns: Sequence[str], *, keyed: bool,
                         source_parents: int | None = None, shape: Any = None,
                         min_count: int = DEFAULT_MIN_COUNT,
                         stat_name: str | None = None) -> list[int]:
    """Positions in ``parent_keys`` for ``total`` children from the children of each parent
    (rows of ``auto__<t>__<fk>__per_parent``: the key columns, ``parents``, ``children``;
    NULL keys: the pooled parents). ``keyed`` (the parents are the source's, e.g. a
    vocabulary table): each released key gets its count, the pooled parents are drawn from
    the other keys. Otherwise (or when no released key is among the parents) the source's
    multiset of counts (with ``source_parents``, the parents with no child too) goes to the
    parents at random, resampled to their number.
    The pooled parents share their children in the shares of the children statistic's
    released counts below ``min_count`` (``shape``, rows ``{n_children, n}``), else evenly;
    when the pooled row was suppressed too, the parents without a released count share
    what the released counts leave of the children.
    Either way the counts are scaled to ``total`` and what rounding leaves moves single
    children between parents that have some."""
    gen = "synthgate.children_per_parent"
    rows = _rows(gen, counts, stat_name)
    n = len(parent_keys)
    if total <= 0 or n == 0:
        return []
    released: list[tuple[tuple[Any, ...], int]] = []
    pooled_parents = pooled_children = 0
    for row in rows:
        key = tuple(row.get(c) for c in key_columns)
        children = int(_number(gen, stat_name, row, "children"))
        if all(v is None for v in key):
            pooled_parents += int(_number(gen, stat_name, row, "parents"))
            pooled_children += children
        else:
            released.append((key, children))
    rare = [(int(r["n_children"]), float(r[COUNT_KEY])) for r in shape or []
            if isinstance(r.get("n_children"), int) and 0 <= r["n_children"] < min_count
            and isinstance(r.get(COUNT_KEY), int | float) and r[COUNT_KEY] > 0]
    pooled_shape = [(k, w) for k, w in rare if k > 0]  # the pooled parents have children
    n_source = source_parents if source_parents is not None \
        else len(released) + pooled_parents
    rest = max(n_source - len(released) - pooled_parents, 0)
    # a pooled row suppressed (fewer than min-count children in all): what the released
    # counts leave of the source's children goes to the parents without one
    pool_known = any(all(row.get(c) is None for c in key_columns) for row in rows)
    left = 0 if pool_known else max(
        round(total * n_source / n) - sum(c for _, c in released), 0)
    per_parent = np.zeros(n, dtype=np.int64)
    # keys compared as text: the statistic's values went through YAML
    where = {tuple(map(str, k)): i for i, k in enumerate(parent_keys)} if keyed else {}
    matched = [(where[k], c) for k, c in ((tuple(map(str, k)), c) for k, c in released)
               if k in where]
    if matched or (keyed and not released):
        for i, children in matched:
            per_parent[i] = children
        others = rng.permutation(np.flatnonzero(per_parent == 0))
        pooled, unknown = others[:pooled_parents], others[pooled_parents:]
        per_parent[pooled] = _pooled(len(pooled), pooled_children, rng, pooled_shape, min_count)
        per_parent[unknown] = _pooled(len(unknown), left, rng, rare if left else (), min_count)
    else:
        source = np.concatenate([np.array([c for _, c in released], dtype=np.int64),
                                 _pooled(pooled_parents, pooled_children, rng, pooled_shape,
                                         min_count),
                                 _pooled(rest, left, rng, rare if left else (), min_count)])
        ordered = np.sort(source)
        picks = ((np.arange(n) + 0.5) * len(ordered) / n).astype(np.int64)
        per_parent = rng.permutation(ordered[np.minimum(picks, len(ordered) - 1)])
    placed = int(per_parent.sum())
    if placed == 0:
        per_parent = _pooled(n, total, rng)
    elif placed != total:
        per_parent = np.floor(per_parent * (total / placed)).astype(np.int64)
    per_parent = _adjust(per_parent, total, np.flatnonzero(per_parent > 0), rng)
    return rng.permutation(np.repeat(np.arange(n), per_parent)).tolist()


def run_builtin(name: str, n: int, rng: np.random.Generator, *, stats: Any,
                columns: Sequence[str], types: Sequence[str] | None, stat_name: str | None,
                **params: Any) -> list[list[Any]]:
    """Call the column generator ``name`` of ``BUILTINS`` for ``n`` rows and return one list
    of ``n`` values per column of ``columns``, in that order."""
    if name not in COLUMN_BUILTINS:
        raise SynthgateError(f"{name} is not a built-in column generator",
                             fix=f"use one of {', '.join(COLUMN_BUILTINS)}")
    out = COLUMN_BUILTINS[name](n, rng, stats=stats, columns=list(columns), types=types,
                                stat_name=stat_name, **params)
    lists = [out] if len(columns) == 1 and isinstance(out, list) else list(out)
    if len(lists) != len(columns) or any(len(v) != n for v in lists):
        raise SynthgateError(f"{name} returned the wrong number of values",
                             where=_where(name, stat_name), fix="report this as a bug")
    return lists


def row_count(stats: Any) -> int | None:
    """The source row count from a profile statistic (``n`` of its one row), if known."""
    if isinstance(stats, list) and len(stats) == 1 and isinstance(stats[0], dict):
        value = stats[0].get(COUNT_KEY)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(round(value), 0)
    return None


COLUMN_BUILTINS: dict[str, Callable[..., Any]] = {
    "synthgate.categorical": categorical,
    "synthgate.joint_categorical": joint_categorical,
    "synthgate.quantiles": quantiles,
    "synthgate.text_length": text_length,
    "synthgate.gaussian_copula": gaussian_copula,
    ORDER: date_order,
}
CHILDREN = "synthgate.children_per_parent"
BUILTINS: dict[str, Callable[..., Any]] = {
    **COLUMN_BUILTINS,
    # different signature: (parent_keys, rng, stats, total=None); the engine calls it per FK
    CHILDREN: children_per_parent,
}
