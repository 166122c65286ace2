"""Built-in generators that follow the proposed aggregate statistics, seeded and vectorised.

Column generators have the signature ``fn(n, rng, *, stats, columns, types=None, **params)``
and return a batch of ``n`` values (one column) or a tuple of lists (several columns).
``stats`` is ``SRC_STATS["auto__..."]`` (the result rows of one statistic), ``columns`` the
``columns_assigned`` of the row generator and ``types`` their portable types from
``orm.yaml`` (the caller passes both, so ``config.yaml`` only names the statistic).
``children_per_parent(parent_keys, rng, stats, total=None)`` picks foreign-key values.

A statistic whose rows were all suppressed (fewer than ``min-count``) raises
``StatsUnavailable``: the caller then falls back to the default generator of the column.
"""

from __future__ import annotations

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
}
CHILDREN = "synthgate.children_per_parent"
BUILTINS: dict[str, Callable[..., Any]] = {
    **COLUMN_BUILTINS,
    # different signature: (parent_keys, rng, stats, total=None); the engine calls it per FK
    CHILDREN: children_per_parent,
}
