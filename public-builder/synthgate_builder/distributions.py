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

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import TEXT_DATE_FORMATS, pair_correlation
from synthgate_shared.types import parse_type

from synthgate_builder.dist_children import (
    children_per_parent,
)
from synthgate_builder.dist_common import (
    COUNT_KEY,
    ORDER,
    StatsUnavailable,
    allocate,
    cell_count,
    marginal,
    result_rows,
    shape_error,
    stratified_uniform,
    to_column,
    type_of,
    where_of,
    with_nulls,
)
from synthgate_builder.dist_order import date_order

_WORDS = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
    "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna",
    "aliqua", "enim", "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco",
    "laboris", "nisi", "aliquip", "ex", "ea", "commodo", "consequat", "duis", "aute",
    "irure", "in", "reprehenderit", "voluptate", "velit", "esse", "cillum", "fugiat",
    "nulla", "pariatur", "excepteur", "sint", "occaecat", "cupidatat", "non", "proident",
    "sunt", "culpa", "qui", "officia", "deserunt", "mollit", "anim", "id", "est", "laborum",
)




def _one_column(generator: str, columns: Sequence[str] | str | None) -> str:
    cols = [columns] if isinstance(columns, str) else list(columns or [])
    if len(cols) != 1:
        raise SynthgateError(f"assigns exactly one column, got {cols}", where=generator,
                             fix="give one column in columns_assigned")
    return cols[0]


def _as_text(values: np.ndarray, gen: str, stat_name: str | None, places: Any,
             date_format: Any, width: Any = None) -> list[Any]:
    """Numbers written as the source writes them in a text column: ``places`` decimal
    places (0: integers), zero-padded to ``width`` characters when given (codes such as
    "00747"), or epoch seconds as dates in ``date_format`` (one of ``TEXT_DATE_FORMATS``)."""
    if date_format is not None:
        if date_format not in TEXT_DATE_FORMATS.values():
            raise shape_error(gen, stat_name, f"date_format {date_format!r} is not one of "
                               f"{', '.join(TEXT_DATE_FORMATS.values())}")
        epoch = dt.datetime(1970, 1, 1)
        return [(epoch + dt.timedelta(seconds=float(v))).strftime(date_format)
                for v in np.rint(values)]
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 30:
        raise shape_error(gen, stat_name, f"places must be an integer 0..30, not {places!r}")
    if width is not None and (isinstance(width, bool) or not isinstance(width, int)
                              or not 1 <= width <= 100):
        raise shape_error(gen, stat_name, f"width must be an integer 1..100, not {width!r}")
    pad = f"0{width}" if width else ""
    return [f"{v:{pad}.{places}f}" for v in np.round(values, places)]


def quantiles(n: int, rng: np.random.Generator, *, stats: Any,
              columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
              stat_name: str | None = None, places: int | None = None,
              date_format: str | None = None, width: int | None = None,
              **params: Any) -> list[Any]:
    """Values of one numeric or date column drawn from its quantiles (or DP histogram) by
    inverse transform of stratified uniforms, with the source's null fraction. A number or
    date kept in a text column is written back as text: with ``places`` decimal places
    (zero-padded to ``width`` characters when given), or in ``date_format`` (the quantiles
    are then epoch seconds)."""
    gen = "synthgate.quantiles"
    column = _one_column(gen, columns)
    probs, values, nulls = marginal(gen, stats, column, "q", params, stat_name)
    drawn = np.interp(stratified_uniform(n, rng), probs, values)
    if places is not None or date_format is not None:
        return with_nulls(_as_text(drawn, gen, stat_name, places, date_format, width), nulls,
                          rng)
    return with_nulls(to_column(drawn, type_of(types, 0)), nulls, rng)


def text_length(n: int, rng: np.random.Generator, *, stats: Any,
                columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
                stat_name: str | None = None, **params: Any) -> list[Any]:
    """Placeholder text (lorem ipsum words) whose lengths follow the source's length
    quantiles (or DP histogram), within ``varchar(n)``, with the source's null fraction."""
    gen = "synthgate.text_length"
    column = _one_column(gen, columns)
    probs, values, nulls = marginal(gen, stats, column, "len_q", params, stat_name)
    lengths = np.rint(np.interp(stratified_uniform(n, rng), probs, values)).astype(np.int64)
    type_text = type_of(types, 0)
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
    return with_nulls(out, nulls, rng)


def categorical(n: int, rng: np.random.Generator, *, stats: Any,
                columns: Sequence[str] | str | None = None, types: Sequence[str] | None = None,
                stat_name: str | None = None, **params: Any) -> list[Any]:
    """Values in the source's proportions (rows ``{<value column>: v, n: count}``; a NULL
    value counts the nulls); rare values suppressed at the source never appear."""
    gen = "synthgate.categorical"
    _one_column(gen, columns)
    rows = result_rows(gen, stats, stat_name)
    if any(len(r) != 2 or COUNT_KEY not in r for r in rows):
        raise shape_error(gen, stat_name, "expected rows of one value and a count 'n'")
    values = [next(v for k, v in r.items() if k != COUNT_KEY) for r in rows]
    weights = np.array([cell_count(gen, stat_name, r) for r in rows])
    if weights.sum() <= 0:
        raise StatsUnavailable("every count is zero", where=where_of(gen, stat_name))
    index = np.repeat(np.arange(len(rows)), allocate(n, weights, rng))
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
    rows = result_rows(gen, stats, stat_name)
    missing = [c for c in cols if c not in rows[0]]
    if missing:
        raise shape_error(gen, stat_name, f"the rows have no column {missing[0]!r}")
    weights = np.array([cell_count(gen, stat_name, r) for r in rows])
    if weights.sum() <= 0:
        raise StatsUnavailable("every count is zero", where=where_of(gen, stat_name))
    index = rng.permutation(np.repeat(np.arange(len(rows)), allocate(n, weights, rng)))
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
    marginals = [marginal(gen, stats, c, "q", params, stat_name) for c in cols]
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
        out.append(with_nulls(to_column(drawn, type_of(types, i)), nulls, rng))
    return tuple(out)


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
                             where=where_of(name, stat_name), fix="report this as a bug")
    return lists


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
