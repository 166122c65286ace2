"""Differentially private proposals: SmartNoise ``dp-query`` entries, public bounds, and the
budget split evenly between them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from synthgate_shared import srcstats
from synthgate_shared.checks import column_facts, numeric_range
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import stat_name
from synthgate_shared.orm import Column, ForeignKey, OrmModel, Table
from synthgate_shared.srcstats import as_written
from synthgate_shared.types import INTEGER_RANGES

from synthgate_agent.proposal import Proposal, gen_entry
from synthgate_agent.propose_roles import Col
from synthgate_agent.propose_sql import Sql, children_per_parent

HISTOGRAM_BINS = 20
DEFAULT_TEXT_LENGTH_CAP = 200  # DP text-length histograms clip here unless bounds say otherwise
DEFAULT_DP_DELTA = 1e-5
MAX_DP_CHILDREN = 100  # children per parent are clipped here in differentially private counts
def _schema_bounds(table: Table, column: Column, model: OrmModel) -> tuple[float, float] | None:
    """Bounds from check constraints, the column's domain (``synthgate_shared.checks``, as
    the builder reads them), or its exact type."""
    span = numeric_range(column_facts(column, model, table))
    lower = None if span.lower is None else float(span.lower)
    upper = None if span.upper is None else float(span.upper)
    ptype = column.portable
    if ptype.base == "smallint":
        lo, hi = INTEGER_RANGES["smallint"]
        lower, upper = (lo if lower is None else lower), (hi if upper is None else upper)
    if ptype.base == "numeric" and len(ptype.params) == 2:
        limit = 10 ** (ptype.params[0] - ptype.params[1]) - 10 ** -ptype.params[1]
        lower = -limit if lower is None else lower
        upper = limit if upper is None else upper
    if lower is None or upper is None or upper <= lower:
        return None
    return lower, upper


def _bounds(table: Table, col: Col, model: OrmModel, config: Config,
            what: str) -> tuple[float, float]:
    key = f"{table.name}.{col.name}"
    given = config.bounds.get(key)
    if given is not None:
        if given.upper <= given.lower:
            raise SynthgateError(f"bounds of {key} have upper <= lower",
                                 where="config.yaml: bounds")
        return given.lower, given.upper
    if col.role == "text":
        length = col.column.portable.length
        return 0.0, float(length or DEFAULT_TEXT_LENGTH_CAP)
    found = _schema_bounds(table, col.column, model) if col.role == "number" else None
    if found is None:
        raise SynthgateError(
            f"column {key} needs public bounds for a differentially private {what}",
            where="config.yaml: bounds",
            fix=f"write them in a file's bounds: section (for example bounds: {{{key}: "
            "{lower: 0, upper: 100}}) and pass it with --bounds-from; dates and times in "
            "seconds since 1970; never the source's own min/max",
        )
    return found


def _metadata(table: Table, sql_columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """SmartNoise metadata of ``query_result``: the primary key as private id when it is one
    column, otherwise one row per individual."""
    meta: dict[str, Any] = {"max_ids": 1}
    if len(table.primary_key) == 1:
        meta["row_privacy"] = False
        meta[table.primary_key[0]] = {"type": _sn_type(table.column(table.primary_key[0])),
                                      "private_id": True}
    else:
        meta["row_privacy"] = True
    meta.update(sql_columns)
    return meta


def _sn_type(column: Column) -> str:
    base = column.portable.base
    if base in INTEGER_RANGES:
        return "int"
    if base in ("real", "double", "numeric"):
        return "float"
    if base == "boolean":
        return "boolean"
    if base in ("date", "timestamp", "timestamptz"):
        return "datetime"
    return "string"


@dataclass
class _DpTable:
    """One table's differentially private statistics being proposed."""

    sql: Sql
    table: Table
    model: OrmModel
    config: Config
    proposal: Proposal

    def __post_init__(self) -> None:
        self.tname = self.sql.table(self.table.name)
        pk = self.table.primary_key
        self.pk = [self.sql.q(pk[0])] if len(pk) == 1 else []
        self.select_pk = (", ".join(self.pk) + ", ") if self.pk else ""
        self.gens = self.proposal.row_generators.setdefault(self.table.name, [])

    def add(self, name: str, query: str, dp_query: str,
            columns: dict[str, dict[str, Any]]) -> None:
        """One DP entry: ``query`` feeds ``query_result``, ``dp_query`` is what is kept."""
        self.proposal.src_stats.append({"name": name, "query": query, "dp-query": dp_query,
                                        "snsql-metadata": _metadata(self.table, columns)})

    def profile(self) -> None:
        """The noisy row count."""
        profile = stat_name(self.table.name, "profile")
        self.add(profile, f"SELECT {self.pk[0] if self.pk else '1 AS one'} FROM {self.tname}",
                 f"SELECT COUNT(*) AS {srcstats.COUNT} FROM query_result", {})
        self.proposal.row_count_stats[self.table.name] = profile

    def category(self, col: Col) -> None:
        """The noisy frequencies of a category column."""
        name = stat_name(self.table.name, col.name, "freq")
        self.add(name, f"SELECT {self.select_pk}{self.sql.q(col.name)} FROM {self.tname}",
                 # SmartNoise reads query_result by plain column names, unquoted
                 f"SELECT {col.name}, COUNT(*) AS {srcstats.COUNT} FROM query_result "
                 f"GROUP BY {col.name}",
                 {col.name: {"type": _sn_type(col.column), "nullable": col.column.nullable}})
        self.gens.append(gen_entry("synthgate.categorical", name, [col.name]))

    def histogram(self, col: Col) -> None:
        """The noisy histogram of a number, date or text length, within public bounds."""
        sql = self.sql
        what = "length histogram" if col.role == "text" else "histogram"
        lower, upper = _bounds(self.table, col, self.model, self.config, what)
        expr = sql.length(col) if col.role == "text" else sql.numeric(col)
        width = (upper - lower) / HISTOGRAM_BINS
        binned = (f"CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} <= {lower} THEN 0 "
                  f"WHEN {expr} >= {upper} THEN {HISTOGRAM_BINS - 1} "
                  f"ELSE CAST(FLOOR(({expr} - {lower}) / {width!r}) AS INTEGER) END")
        name = stat_name(self.table.name, col.name, "histogram")
        self.add(name, f"SELECT {self.select_pk}{binned} AS bin FROM {self.tname}",
                 f"SELECT bin, COUNT(*) AS {srcstats.COUNT} FROM query_result GROUP BY bin",
                 {"bin": {"type": "int", "lower": 0, "upper": HISTOGRAM_BINS - 1,
                          "nullable": True}})
        kind = "synthgate.text_length" if col.role == "text" else "synthgate.quantiles"
        self.gens.append(gen_entry(kind, name, [col.name], lower=lower, upper=upper,
                                   bins=HISTOGRAM_BINS))

    def children(self, fk: ForeignKey) -> None:
        """The noisy distribution of children per parent, clipped to a public cap."""
        sql = self.sql
        keys = ", ".join(f"p.{sql.q(r)}" for r in fk.ref_columns)
        name = stat_name(self.table.name, *fk.columns, "children")
        parent = self.model.tables[fk.ref_table]
        source, count = children_per_parent(sql, self.table, fk)
        # clipped to a public cap: SmartNoise needs bounds for every numeric column
        query = (f"SELECT {keys}, CASE WHEN {count} > {MAX_DP_CHILDREN} THEN {MAX_DP_CHILDREN} "
                 f"ELSE {count} END AS n_children FROM {source}")
        meta: dict[str, Any] = {"max_ids": 1, "row_privacy": True,
                                "n_children": {"type": "int", "lower": 0,
                                               "upper": MAX_DP_CHILDREN}}
        if len(fk.ref_columns) == 1 and fk.ref_columns == parent.primary_key:
            meta["row_privacy"] = False
            meta[fk.ref_columns[0]] = {"type": _sn_type(parent.column(fk.ref_columns[0])),
                                       "private_id": True}
        self.proposal.src_stats.append({
            "name": name, "query": query,
            "dp-query": f"SELECT n_children, COUNT(*) AS {srcstats.COUNT} FROM query_result "
                        "GROUP BY n_children",
            "snsql-metadata": meta})
        self.gens.append(gen_entry("synthgate.children_per_parent", name, list(fk.columns)))


def dp_table(sql: Sql, table: Table, cols: list[Col], fks: list[ForeignKey],
             model: OrmModel, config: Config, proposal: Proposal) -> None:
    """Counts, frequencies and histograms through SmartNoise: ``query`` only feeds
    ``query_result`` inside the agent; what is kept is the noisy ``dp-query`` result."""
    dp = _DpTable(sql, table, model, config, proposal)
    dp.profile()
    for col in cols:
        if col.role == "category":
            dp.category(col)
        elif col.role in ("number", "temporal", "text"):
            dp.histogram(col)
        elif col.role == "known" and col.provider:
            dp.gens.append(gen_entry(col.provider, None, [col.name]))
    for fk in fks:
        dp.children(fk)


def _share(total: float, parts: int) -> float:
    """``total / parts``, lowered to the float below where needed so that ``parts`` of it
    never exceed ``total`` as make-stats adds them (the numbers as written in the config)."""
    each = total / parts
    while each > 0 and as_written(each) * parts > as_written(total):
        each = math.nextafter(each, 0.0)
    return each


def split_budget(proposal: Proposal, epsilon: float, delta: float) -> None:
    dp = [s for s in proposal.src_stats if "dp-query" in s]
    if not dp:
        return
    each_eps, each_delta = _share(epsilon, len(dp)), _share(delta, len(dp))
    for entry in dp:
        entry["epsilon"] = each_eps
        entry["delta"] = each_delta
        entry["comments"] = [f"differentially private: epsilon {each_eps:.6g}, delta "
                             f"{each_delta:.3g} ({len(dp)} proposals share epsilon {epsilon:g})"]
        if entry["name"].endswith("__profile"):
            entry["comments"].append("the row count: structural, released for every table "
                                     "however small, as a noisy count")
    proposal.epsilon_total, proposal.delta_total = epsilon, delta
