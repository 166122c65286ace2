"""What ``propose`` returns, and the config-shaped entries it is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Proposal:
    """What ``propose`` suggests: config-shaped ``src-stats`` entries and the generators.

    ``row_generators[table]`` are config-shaped ``{name, kwargs, columns_assigned}``;
    ``num_rows[table]`` is None (the count is known after ``make-stats``: the ``n`` of the
    statistic named in ``row_count_stats[table]``). ``epsilon_total``/``delta_total`` are the
    budget spent by the DP entries (0 without ``epsilon``).
    """

    src_stats: list[dict[str, Any]] = field(default_factory=list)
    row_generators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    num_rows: dict[str, int | None] = field(default_factory=dict)
    row_count_stats: dict[str, str] = field(default_factory=dict)
    epsilon_total: float = 0.0
    delta_total: float = 0.0
    # table -> columns_assigned joined by "," -> the measured facts behind that generator
    notes: dict[str, dict[str, str]] = field(default_factory=dict)
    # table -> why it looks like a vocabulary table (a comment; left generated)
    vocabulary_candidates: dict[str, str] = field(default_factory=dict)
    # table -> why it is proposed ``vocabulary_table: true`` (a comment; copied verbatim)
    vocabulary_tables: dict[str, str] = field(default_factory=dict)



def src_stats_ref(name: str) -> str:
    """How a generator's kwargs refer to a statistic (SqlSynthGen style)."""
    return f'SRC_STATS["{name}"]'
def stat_entry(name: str, query: str, *, count_column: str | None, min_count: int | None = None,
          comment: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "query": query}
    if count_column:
        entry["count-column"] = count_column
    if min_count is not None:
        entry["min-count"] = min_count
    if comment:
        entry["comments"] = [comment]
    return entry


def gen_entry(name: str, stat: str | None, columns: list[str],
               **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"stats": src_stats_ref(stat)} if stat else {}
    args.update(kwargs)
    entry: dict[str, Any] = {"name": name}
    if args:
        entry["kwargs"] = args
    entry["columns_assigned"] = columns[0] if len(columns) == 1 else columns
    return entry
