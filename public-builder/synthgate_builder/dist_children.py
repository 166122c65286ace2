"""Foreign-key values: how many children each parent gets (``children_per_parent``), and the
fallbacks when its counts were suppressed (``children_from_share``, ``children_from_counts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from synthgate_shared.config import DEFAULT_MIN_COUNT
from synthgate_shared.errors import SynthgateError

from synthgate_builder.dist_common import (
    COUNT_KEY,
    StatsUnavailable,
    allocate,
    cell_count,
    number_field,
    result_rows,
    shape_error,
    where_of,
)


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
    rows = result_rows(gen, stats, stat_name)
    ks, weights = [], []
    for row in rows:
        k = row.get("n_children")
        if isinstance(k, bool) or not isinstance(k, int | float) or k < 0:
            raise shape_error(gen, stat_name, "rows need a count 'n_children' >= 0 and 'n'")
        ks.append(int(k))
        weights.append(cell_count(gen, stat_name, row))
    weight_arr = np.array(weights)
    if weight_arr.sum() <= 0:
        raise StatsUnavailable("every count is zero", where=where_of(gen, stat_name))
    n_parents = len(parent_keys)
    if n_parents == 0:
        if total:
            raise SynthgateError(f"{total} children need parents, but there are none",
                                 where=where_of(gen, stat_name))
        return []
    kept_share = 1.0
    if total is not None and parents_total and parents_total > weight_arr.sum():
        kept_share = float(weight_arr.sum()) / parents_total
    n_kept = round(n_parents * kept_share)
    per_parent = np.repeat(np.array(ks, dtype=np.int64), allocate(n_kept, weight_arr, rng))
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


def source_parents(profile: Any, summary: Any) -> int | None:
    """The source's parent row count: the ``n`` of the parent's profile, else (a vocabulary
    parent has no profile) the ``parents`` of the key's ``auto__<t>__<fk>__parents`` row."""
    for stats, key in ((profile, COUNT_KEY), (summary, "parents")):
        if isinstance(stats, list) and len(stats) == 1 and isinstance(stats[0], dict):
            value = stats[0].get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(round(value), 0)
    return None


def children_from_share(parent_keys: Sequence[Any], rng: np.random.Generator, summary: Any,
                        total: int, stat_name: str | None = None) -> list[Any]:
    """Foreign-key values for ``total`` children when the children-per-parent counts were
    all suppressed: the parents' share that has any child (``used / parents`` of the one row
    of ``auto__<t>__<fk>__parents``) gets them, at least one each and the rest spread
    evenly at random; the others get none. Never a uniform draw over all the parents."""
    gen = "synthgate.children_per_parent"
    rows = result_rows(gen, summary, stat_name)
    parents = number_field(gen, stat_name, rows[0], "parents")
    used_share = number_field(gen, stat_name, rows[0], "used") / parents if parents else 1.0
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
        kept = np.repeat(ks, allocate(count, weights, rng))
    rest, left = count - len(kept), max(children - int(kept.sum()), 0)
    share = np.concatenate([kept, _rare_counts(rest, left, set(ks.tolist()),
                                               max(min_count - 1, 1))
                            if rest and left else np.zeros(rest, dtype=np.int64)])
    return rng.permutation(_adjust(share.astype(np.int64), children, np.arange(count), rng))


def _released_counts(rows: list[dict[str, Any]], key_columns: Sequence[str],
                     stat_name: str | None) -> tuple[list[tuple[tuple[Any, ...], int]], int, int]:
    """(released (key, children) pairs, pooled parents, pooled children) of a per-parent
    statistic: the row with NULL keys is the pool of parents whose counts were withheld."""
    gen = "synthgate.children_per_parent"
    released: list[tuple[tuple[Any, ...], int]] = []
    pooled_parents = pooled_children = 0
    for row in rows:
        key = tuple(row.get(c) for c in key_columns)
        children = int(number_field(gen, stat_name, row, "children"))
        if all(v is None for v in key):
            pooled_parents += int(number_field(gen, stat_name, row, "parents"))
            pooled_children += children
        else:
            released.append((key, children))
    return released, pooled_parents, pooled_children


def _rare_shape(shape: Any, min_count: int) -> list[tuple[int, float]]:
    """(children, parents) rows of the children statistic below ``min_count`` children."""
    return [(int(r["n_children"]), float(r[COUNT_KEY])) for r in shape or []
            if isinstance(r.get("n_children"), int) and 0 <= r["n_children"] < min_count
            and isinstance(r.get(COUNT_KEY), int | float) and r[COUNT_KEY] > 0]


def _scaled_positions(per_parent: np.ndarray, total: int, rng: np.random.Generator) -> list[int]:
    """Parent positions, one per child, with the counts scaled to ``total`` (evenly over
    every parent when none has a child)."""
    n = len(per_parent)
    placed = int(per_parent.sum())
    if placed == 0:
        per_parent = _pooled(n, total, rng)
    elif placed != total:
        per_parent = np.floor(per_parent * (total / placed)).astype(np.int64)
    per_parent = _adjust(per_parent, total, np.flatnonzero(per_parent > 0), rng)
    return rng.permutation(np.repeat(np.arange(n), per_parent)).tolist()


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
    rows = result_rows(gen, counts, stat_name)
    n = len(parent_keys)
    if total <= 0 or n == 0:
        return []
    released, pooled_parents, pooled_children = _released_counts(rows, key_columns,
                                                                 stat_name)
    rare = _rare_shape(shape, min_count)
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
    return _scaled_positions(per_parent, total, rng)


PAIRING_MAX_WORK = 50_000_000  # distinct keys of one side times those of the other


def distinct_pairs(first: Sequence[Any], second: Sequence[Any], rng: np.random.Generator
                   ) -> list[int] | None:
    """An order of ``second`` such that no (first[i], second[i]) pair repeats, keeping how
    often each value of either side occurs (its children per parent): a composite unique
    key made of two foreign keys, such as Chinook's ``playlist_track (playlist_id,
    track_id)``, whose one playlist holds most tracks. Greedy (Gale-Ryser): the values of
    the side with fewer distinct values, most frequent first, each take the values of the
    other side with the most occurrences left (ties at random). None when the counts
    cannot be paired so, or when pairing would cost more than ``PAIRING_MAX_WORK``."""
    if len(first) != len(second):
        return None
    a_keys, a_index = _codes(first)
    b_keys, b_index = _codes(second)
    swap = len(a_keys) > len(b_keys)
    if swap:
        a_keys, a_index, b_keys, b_index = b_keys, b_index, a_keys, a_index
    if len(a_keys) * len(b_keys) > PAIRING_MAX_WORK:
        return None
    a_rows = [np.flatnonzero(a_index == k) for k in range(len(a_keys))]
    b_rows = [list(rng.permutation(np.flatnonzero(b_index == k))) for k in range(len(b_keys))]
    left = np.array([len(r) for r in b_rows], dtype=np.float64)
    tie = rng.random(len(b_keys)) * 0.5  # below 1: only orders equal counts
    pair = np.empty(len(first), dtype=np.int64)  # row of the "a" side -> row of the "b" side
    for k in sorted(range(len(a_keys)), key=lambda j: -len(a_rows[j])):
        rows = a_rows[k]
        if not len(rows):
            continue
        if len(rows) > len(left) or left[np.argpartition(-(left + tie), len(rows) - 1)
                                         [:len(rows)]].min() < 1:
            return None
        chosen = np.argpartition(-(left + tie), len(rows) - 1)[:len(rows)]
        left[chosen] -= 1
        for row, b in zip(rows.tolist(), chosen.tolist(), strict=True):
            pair[row] = b_rows[b].pop()
    if not swap:  # pair maps a row of first to the row of second it takes
        return pair.tolist()
    out = np.empty(len(first), dtype=np.int64)  # first is the "b" side: invert
    out[pair] = np.arange(len(first))
    return out.tolist()


def _codes(values: Sequence[Any]) -> tuple[list[Any], np.ndarray]:
    """The distinct values (first seen first) and each value's index among them."""
    seen: dict[Any, int] = {}
    index = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64,
                        count=len(values))
    return list(seen), index
