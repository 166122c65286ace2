"""Key and uniqueness state of a run: key pools, hashed unique sets, the free parents of a
one-to-one foreign key and the queued keys of a children_per_parent foreign key.

Memory: a run keeps every key its foreign keys draw from and every value of the unique keys
it must check, so both are compact: a pool holds one NumPy array per key column (8 bytes a
key for integer columns), a checked unique key only 64-bit hashes of its values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclasses.dataclass
class FreeParents:
    """The parents a one-to-one foreign key can still point at: ``taken`` holds the hashes of
    the keys the child's rows hold (never stand-ins), ``index`` the pool positions not taken
    nor drawn yet, with the hashes of their keys, as far as ``upto`` of the pool. ``stale``:
    a story gave keys, which may be in ``index``."""

    taken: Hashes
    index: npt.NDArray[np.int64] = dataclasses.field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    hashes: npt.NDArray[np.int64] = dataclasses.field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    upto: int = 0
    stale: bool = False
    noted: bool = False  # a note said that the parents ran out

    def remove(self, pick: npt.NDArray[np.int64]) -> None:
        """Drop the distinct positions ``pick`` of ``index``: the entries after the last
        ``len(pick)`` fill the holes, so a draw costs its size, not the pool's."""
        end = len(self.index) - len(pick)
        tail = np.ones(len(pick), dtype=bool)
        tail[pick[pick >= end] - end] = False
        holes = pick[pick < end]
        fill = np.arange(end, len(self.index))[tail]
        self.index[holes], self.hashes[holes] = self.index[fill], self.hashes[fill]
        self.index, self.hashes = self.index[:end], self.hashes[:end]


class Pool:
    """The keys of a parent table that foreign keys draw from: one NumPy array per key
    column, int64 for integer columns (8 bytes a key) and object arrays otherwise (a pointer
    to the value), grown by doubling. A value an int64 cannot hold turns its column into
    an object array."""

    def __init__(self, integer: Sequence[bool]) -> None:
        self.size = 0
        self.columns = [np.empty(1024, dtype=np.int64 if i else object) for i in integer]

    def __len__(self) -> int:
        return self.size

    def add(self, columns: Sequence[Sequence[Any]]) -> None:
        """Append the keys of ``columns`` (one sequence per key column) that have no NULL."""
        if any(None in c for c in columns):
            keep = [i for i, key in enumerate(zip(*columns, strict=True)) if None not in key]
            columns = [[c[i] for i in keep] for c in columns]
        n = len(columns[0])
        if n == 0:
            return
        end = self.size + n
        for j, values in enumerate(columns):
            target = self.columns[j]
            new = np.asarray(values) if target.dtype == np.int64 else None
            if new is None or new.dtype.kind != "i":
                new = np.fromiter(values, dtype=object, count=n)
                if target.dtype == np.int64:
                    target = target.astype(object)
            if end > len(target):
                target = np.concatenate([target[:self.size],
                                         np.empty(max(end, 2 * len(target)) - self.size,
                                                  dtype=target.dtype)])
            target[self.size:end] = new
            self.columns[j] = target
        self.size = end

    def rows(self, index: npt.NDArray[np.int64]) -> list[list[Any]]:
        """The keys at positions ``index``, one list per key column."""
        return [c[index].tolist() for c in self.columns]


class Hashes:
    """The values a unique key has taken, as 64-bit hashes (8 bytes a key instead of about
    150 for a set of tuples), in sorted NumPy blocks merged like a binary counter, so a
    lookup searches a few blocks and each hash is merged a few times.

    Equal values have equal hashes, so no repeat is missed; two different values with the
    same hash (about one chance in 30 million at a million keys) only make a row's values
    be generated again."""

    def __init__(self) -> None:
        self.blocks: list[npt.NDArray[np.int64]] = []

    def hits(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether each of ``hashes`` is in the set."""
        found = np.zeros(len(hashes), dtype=bool)
        for block in self.blocks:
            at = np.minimum(np.searchsorted(block, hashes), len(block) - 1)
            found |= block[at] == hashes
        return found

    def add(self, hashes: npt.NDArray[np.int64]) -> None:
        """Add ``hashes``."""
        if not len(hashes):
            return
        self.blocks.append(np.sort(hashes))
        while len(self.blocks) > 1 and len(self.blocks[-2]) <= len(self.blocks[-1]):
            last = self.blocks.pop()
            self.blocks[-1] = np.sort(np.concatenate([self.blocks[-1], last]))


def hash_keys(keys: Iterable[Any], count: int = -1) -> npt.NDArray[np.int64]:
    return np.fromiter(map(hash, keys), dtype=np.int64, count=count)


def key_hashes(columns: Sequence[Sequence[Any]]
                ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """The rows of a batch whose key (one sequence per column) has no NULL, and the hashes
    of their keys: of the value for a one-column key, of the tuple otherwise."""
    keys: Sequence[Any] = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
    if any(None in c for c in columns):
        rows = np.array([i for i, key in enumerate(zip(*columns, strict=True))
                         if None not in key], dtype=np.intp)
        return rows, hash_keys((keys[i] for i in rows.tolist()), len(rows))
    return np.arange(len(keys)), hash_keys(keys, len(keys))


def repeats(hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Whether each hash equals an earlier one of the array."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    out = np.zeros(len(hashes), dtype=bool)
    out[order[1:]] = ordered[1:] == ordered[:-1]
    return out


@dataclasses.dataclass
class Queue:
    """This pass's values of a children_per_parent foreign key, one list per column."""

    columns: list[list[Any]]
    taken: int = 0

    def take(self, n: int) -> list[list[Any]]:
        """The next ``n`` values of each column (fewer once the queue runs out)."""
        start, self.taken = self.taken, min(self.taken + n, len(self.columns[0]))
        return [c[start:self.taken] for c in self.columns]
