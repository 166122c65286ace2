"""Parent attributes: the values of a parent table's columns that its children depend on.

``create-data`` keeps, next to each parent key pool, a ``ParentAttributes`` for the parent
columns a child's generator reads (a parent's date that a child's date follows; for issue 14
any parent attribute a child is conditioned on). Rows are added in the pool's order (the
rows read from the destination first, vocabulary tables included, then every batch as it
goes in), so position ``i`` of the store is position ``i`` of the pool; ``lookup`` finds
the parents of a batch of children by their foreign-key values, whichever way those were
drawn (the pool, children per parent, one-to-one keys, a story).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

_EMPTY = -1


def key_hashes(columns: Sequence[Sequence[Any]]) -> npt.NDArray[np.int64]:
    """The hash of each key given column by column: of the value for a one-column key, of
    the tuple otherwise (so equal keys hash equally whatever their number of columns)."""
    keys: Iterable[Any] = columns[0] if len(columns) == 1 else zip(*columns, strict=True)
    return np.fromiter(map(hash, keys), dtype=np.int64, count=len(columns[0]))


class ParentAttributes:
    """The values of ``columns`` of parent rows, aligned with the parent's key pool (one
    object array per column, grown by doubling) and found by key through a sorted index of
    the keys' hashes, rebuilt only when rows were added since the last lookup."""

    def __init__(self, key: Sequence[str], columns: Sequence[str]) -> None:
        self.key = tuple(key)
        self.columns = tuple(columns)
        self.size = 0
        self._hashes = np.empty(1024, dtype=np.int64)
        self._values = {c: np.empty(1024, dtype=object) for c in self.columns}
        self._order: npt.NDArray[np.intp] | None = None

    def __len__(self) -> int:
        return self.size

    def add(self, keys: Sequence[Sequence[Any]], values: Mapping[str, Sequence[Any]]) -> None:
        """Append parent rows: ``keys`` one sequence per key column, ``values`` one sequence
        per attribute column (a missing column is NULL). Rows whose key has a NULL are left
        out, as the key pool leaves them out."""
        n = len(keys[0]) if keys else 0
        keep = [i for i, key in enumerate(zip(*keys, strict=True)) if None not in key] \
            if any(None in k for k in keys) else None
        if keep is not None:
            keys = [[k[i] for i in keep] for k in keys]
            values = {c: [v[i] for i in keep] for c, v in values.items()}
            n = len(keep)
        if n == 0:
            return
        end = self.size + n
        if end > len(self._hashes):
            grown = max(end, 2 * len(self._hashes))
            self._hashes = np.resize(self._hashes, grown)
            for c in self.columns:
                bigger = np.empty(grown, dtype=object)
                bigger[:self.size] = self._values[c][:self.size]
                self._values[c] = bigger
        self._hashes[self.size:end] = key_hashes(keys)
        for c in self.columns:
            column = values.get(c)
            self._values[c][self.size:end] = [None] * n if column is None else list(column)
        self.size = end
        self._order = None

    def positions(self, keys: Sequence[Sequence[Any]]) -> npt.NDArray[np.intp]:
        """The position of each key's parent (``-1`` where the key has a NULL or no parent)."""
        n = len(keys[0]) if keys else 0
        out = np.full(n, _EMPTY, dtype=np.intp)
        if n == 0 or self.size == 0:
            return out
        if self._order is None:
            self._order = np.argsort(self._hashes[:self.size], kind="stable")
        rows = [i for i, key in enumerate(zip(*keys, strict=True)) if None not in key]
        if not rows:
            return out
        present = [[k[i] for i in rows] for k in keys] if len(rows) < n else keys
        wanted = key_hashes(present)
        ordered = self._hashes[:self.size][self._order]
        at = np.minimum(np.searchsorted(ordered, wanted), self.size - 1)
        found = ordered[at] == wanted
        out[np.array(rows)[found]] = self._order[at[found]]
        return out

    def at(self, positions: npt.NDArray[np.intp]) -> dict[str, list[Any]]:
        """The attribute values of the parents at ``positions`` (None where ``-1``)."""
        out: dict[str, list[Any]] = {}
        valid = positions >= 0
        for c in self.columns:
            column = np.full(len(positions), None, dtype=object)
            column[valid] = self._values[c][positions[valid]]
            out[c] = column.tolist()
        return out

    def lookup(self, keys: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
        """The attribute values of the parents of ``keys`` (one sequence per key column),
        one list per attribute column; None where a key has no parent here."""
        return self.at(self.positions(keys))
