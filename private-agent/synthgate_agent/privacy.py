"""Differential privacy for source statistics: checking DP entries, the budget, running dp-queries.

A DP entry of ``src-stats`` follows SqlSynthGen: ``query`` runs on the source, its
result becomes the table ``query_result``, and ``dp-query`` runs on that table
through SmartNoise SQL with ``epsilon``, ``delta`` and ``snsql-metadata`` (the
SmartNoise metadata of the single table ``query_result``: table options such as
``max_ids`` and ``row_privacy``, and one mapping per column). Everything here is
checked before any query runs, so a bad entry never costs a trip to the source.
"""

from __future__ import annotations

import difflib
import warnings
from typing import Any

import sqlglot
from sqlglot import exp
from synthgate_shared.config import Config, SrcStat
from synthgate_shared.errors import SynthgateError
from synthgate_shared.srcstats import as_written, privacy_totals

DP_TABLE = "query_result"
COLUMN_TYPES = ("int", "float", "string", "boolean", "datetime")
NUMERIC_TYPES = ("int", "float")
# SmartNoise table options and the Python type each must have.
TABLE_OPTIONS: dict[str, type] = {
    "max_ids": int, "row_privacy": bool, "rows": int, "rows_exact": int,
    "sample_max_ids": bool, "clamp_counts": bool, "clamp_columns": bool, "use_dpsu": bool,
    "censor_dims": bool,
}
COLUMN_KEYS: dict[str, type | tuple[type, ...]] = {
    "type": str, "private_id": bool, "lower": (int, float), "upper": (int, float),
    "nullable": bool, "missing_value": (int, float, str, bool),
    "sensitivity": (int, float), "cardinality": int,
}
_MOVE_FIX = ("move the join or subquery into `query` (it runs on the source) and let "
             "`dp-query` read only the one table query_result")


def _where(stat: SrcStat) -> str:
    return f"src-stats query {stat.name!r}"


def _bad(stat: SrcStat, key: str, what: str, fix: str | None = None) -> SynthgateError:
    return SynthgateError(f"{key}: {what}", where=_where(stat), fix=fix)


def is_dp(stat: SrcStat) -> bool:
    """Whether ``stat`` is a differentially private entry (it has a ``dp-query``)."""
    return stat.dp_query is not None


_KIND_NAMES = {int: "an integer", bool: "true or false", str: "text", float: "a number"}


def _check_type(stat: SrcStat, key: str, value: Any, wanted: type | tuple[type, ...]) -> None:
    kinds = wanted if isinstance(wanted, tuple) else (wanted,)
    # bool is an int in Python; a YAML `true` is never a valid number or count here
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join(dict.fromkeys(
            "a number" if k in (int, float) and float in kinds else _KIND_NAMES[k]
            for k in kinds))
        raise _bad(stat, key, f"must be {names}, not {value!r}")


def _unknown_key(stat: SrcStat, key: str, valid: list[str]) -> SynthgateError:
    close = difflib.get_close_matches(key.split(".")[-1], valid, n=1)
    fix = f"did you mean {close[0]!r}?" if close else f"valid keys here: {', '.join(valid)}"
    return _bad(stat, key, "unknown key", fix)


def _check_column(stat: SrcStat, name: str, spec: Any) -> None:
    key = f"snsql-metadata.{name}"
    if not isinstance(spec, dict):
        raise _bad(stat, key, f"must be a mapping with at least `type`, not {spec!r}",
                   "write for example `{type: int, lower: 0, upper: 100}`")
    for ckey, value in spec.items():
        if ckey not in COLUMN_KEYS:
            raise _unknown_key(stat, f"{key}.{ckey}", sorted(COLUMN_KEYS))
        _check_type(stat, f"{key}.{ckey}", value, COLUMN_KEYS[ckey])
    ctype = spec.get("type")
    if ctype not in COLUMN_TYPES:
        what = "has no `type`" if ctype is None else f"unknown type {ctype!r}"
        raise _bad(stat, f"{key}.type", what, f"use one of {', '.join(COLUMN_TYPES)}")
    bounded = "lower" in spec or "upper" in spec
    if ctype in NUMERIC_TYPES and not spec.get("private_id"):
        if "lower" not in spec or "upper" not in spec:
            missing = "lower" if "lower" not in spec else "upper"
            raise _bad(stat, f"{key}.{missing}", f"the {ctype} column needs both lower and "
                       "upper bounds (SmartNoise clamps values to them)",
                       "give the range a value can take, e.g. `lower: 0` and `upper: 100`")
        if spec["lower"] >= spec["upper"]:
            raise _bad(stat, f"{key}.lower", f"lower ({spec['lower']}) must be below upper "
                       f"({spec['upper']})")
    elif bounded and ctype not in NUMERIC_TYPES:
        raise _bad(stat, f"{key}.lower" if "lower" in spec else f"{key}.upper",
                   f"bounds only apply to int and float columns, not {ctype}")


def metadata_columns(stat: SrcStat) -> dict[str, dict[str, Any]]:
    """The column entries of ``snsql-metadata`` (everything that is not a table option)."""
    meta = stat.snsql_metadata or {}
    return {k: v for k, v in meta.items() if k not in TABLE_OPTIONS}


def _check_metadata(stat: SrcStat) -> None:
    meta = stat.snsql_metadata
    if meta is None:
        raise _bad(stat, "snsql-metadata", "missing: a dp-query needs the SmartNoise metadata "
                   "of query_result", "describe each column of `query` (type, private_id, "
                   "lower, upper) under snsql-metadata")
    for key, value in meta.items():
        if not isinstance(key, str):
            raise _bad(stat, f"snsql-metadata.{key}", "keys must be column names or options")
        if key in TABLE_OPTIONS:
            _check_type(stat, f"snsql-metadata.{key}", value, TABLE_OPTIONS[key])
        elif key in ("", DP_TABLE, "engine"):
            raise _bad(stat, "snsql-metadata", "give the metadata of the table "
                       "query_result itself, not a collection/schema/table nesting",
                       "write `snsql-metadata: {max_ids: 1, <column>: {type: ...}, ...}` as "
                       "in SqlSynthGen")
    if "max_ids" in meta and meta["max_ids"] < 1:
        raise _bad(stat, "snsql-metadata.max_ids", f"must be at least 1, not {meta['max_ids']}")
    columns = metadata_columns(stat)
    if not columns:
        raise _bad(stat, "snsql-metadata", "describes no column",
                   "add one entry per column of `query` used by the dp-query")
    for name, spec in columns.items():
        _check_column(stat, name, spec)
    if not meta.get("row_privacy") and not any(c.get("private_id") for c in columns.values()):
        raise _bad(stat, "snsql-metadata", "no column has `private_id: true` and row_privacy "
                   "is not set", "mark the column that identifies a person with "
                   "`private_id: true`, or set `row_privacy: true` if each row is one person")


def _dp_tree(stat: SrcStat) -> exp.Expression:
    assert stat.dp_query is not None
    try:
        tree = sqlglot.parse_one(stat.dp_query)
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0]
        raise _bad(stat, "dp-query", f"not valid SQL ({first})") from None
    if not isinstance(tree, exp.Select):
        raise _bad(stat, "dp-query", "must be a single SELECT over query_result", _MOVE_FIX)
    return tree


def _check_dp_query(stat: SrcStat) -> None:
    tree = _dp_tree(stat)
    if tree.find(exp.Join):
        raise _bad(stat, "dp-query", "SmartNoise SQL cannot run a join", _MOVE_FIX)
    if any(sub is not tree for sub in tree.find_all(exp.Query)) or tree.find(exp.With):
        raise _bad(stat, "dp-query", "SmartNoise SQL cannot run a subquery or WITH", _MOVE_FIX)
    tables = {t.name for t in tree.find_all(exp.Table)}
    if tables != {DP_TABLE}:
        other = ", ".join(sorted(tables - {DP_TABLE})) or "no table"
        raise _bad(stat, "dp-query", f"must read only the table query_result, not {other}",
                   "name the result of `query` as query_result: `... FROM query_result`")
    known = {c.lower() for c in metadata_columns(stat)}
    aliases = {a.alias.lower() for a in tree.expressions if isinstance(a, exp.Alias)}
    for column in tree.find_all(exp.Column):
        name = column.name
        if name and name.lower() not in known and name.lower() not in aliases:
            raise _bad(stat, "dp-query", f"names the column {name!r}, which is not in "
                       "snsql-metadata", f"add {name!r} to snsql-metadata (with its type) or "
                       "fix the column name")


def validate_stat(stat: SrcStat) -> None:
    """Check one entry's DP settings; a DP key without ``dp-query`` is an error too."""
    if not is_dp(stat):
        stray = [k for k, v in (("epsilon", stat.epsilon), ("delta", stat.delta),
                                ("snsql-metadata", stat.snsql_metadata)) if v is not None]
        if stray:
            raise _bad(stat, stray[0], "given without a dp-query, so no noise would be added",
                       "add a dp-query over query_result, or remove the DP keys")
        return
    if stat.epsilon is None or not stat.epsilon > 0:
        raise _bad(stat, "epsilon", "missing" if stat.epsilon is None else
                   f"must be greater than 0, not {stat.epsilon}",
                   "give the privacy loss of this query, e.g. `epsilon: 1.0`")
    if stat.delta is None or not 0 <= stat.delta < 1:
        raise _bad(stat, "delta", "missing" if stat.delta is None else
                   f"must be at least 0 and below 1, not {stat.delta}",
                   "give a small probability such as `delta: 0.000001`")
    for key, value in (("min-count", stat.min_count), ("count-column", stat.count_column)):
        if value is not None:
            raise _bad(stat, key, "applies to plain queries only: DP results are not "
                       "suppressed", f"remove {key} from this entry")
    _check_metadata(stat)
    _check_dp_query(stat)


def check_budget(config: Config) -> None:
    """Refuse a config whose DP queries together spend more than ``privacy-budget``."""
    budget = config.privacy_budget
    if budget is None:
        return
    dp = [s for s in config.src_stats if is_dp(s)]
    total_eps, total_delta = privacy_totals((s.epsilon, s.delta) for s in dp)
    over = []
    if total_eps > as_written(budget.epsilon):
        over.append(f"total epsilon {total_eps} exceeds the budget's {budget.epsilon}")
    if total_delta > as_written(budget.delta):
        over.append(f"total delta {total_delta} exceeds the budget's {budget.delta}")
    if over:
        raise SynthgateError(
            f"privacy budget exceeded: {'; '.join(over)} (basic composition over "
            f"{len(dp)} DP queries); no query was run", where="config.yaml privacy-budget",
            fix="lower the epsilon/delta of some src-stats queries, drop some, or raise "
            "privacy-budget if the reviewers agree")


def validate_privacy(config: Config) -> None:
    """Check every src-stats entry's DP settings and the budget; raise before anything runs."""
    for stat in config.src_stats:
        validate_stat(stat)
    check_budget(config)


def run_dp_query(stat: SrcStat, columns: list[str], rows: list[tuple[Any, ...]]
                 ) -> list[dict[str, Any]]:
    """Run ``stat``'s dp-query through SmartNoise SQL over the rows of its plain query.

    Returns one mapping per result row with plain Python values (no NumPy scalars).
    """
    import pandas as pd  # heavy imports only when a DP query runs
    import snsql

    meta_columns = metadata_columns(stat)
    by_lower = {c.lower(): c for c in columns}
    frame = pd.DataFrame.from_records(rows, columns=columns)
    picked = {}
    for name, spec in meta_columns.items():
        source_name = by_lower.get(name.lower())
        if source_name is None:
            raise _bad(stat, f"snsql-metadata.{name}", "this column is not in the result of "
                       f"`query` (it has: {', '.join(columns) or 'no columns'})",
                       "select the column in `query` or fix its name in snsql-metadata")
        series = frame[source_name]
        if spec["type"] in NUMERIC_TYPES:
            try:  # drivers return Decimal; SmartNoise's engine needs plain numbers
                series = pd.to_numeric(series)
            except (TypeError, ValueError):
                raise _bad(stat, f"snsql-metadata.{name}", f"declared {spec['type']} but "
                           "`query` returns values that are not numbers") from None
        elif spec["type"] == "string":
            series = series.map(lambda v: v if v is None else str(v))
        picked[name] = series
    table = pd.DataFrame(picked)
    meta = {"": {"": {DP_TABLE: stat.snsql_metadata}}}
    privacy = snsql.Privacy(epsilon=stat.epsilon, delta=stat.delta)
    assert stat.dp_query is not None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SmartNoise warns about sensitivity/bounds at length
            reader = snsql.from_df(table, privacy=privacy, metadata=meta)
            result = reader.execute(stat.dp_query)
    except Exception as exc:  # SmartNoise raises plain ValueErrors (and worse) for what it rejects
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _bad(stat, "dp-query", f"SmartNoise SQL cannot run it ({detail})",
                   "use one SELECT of aggregates (COUNT, SUM, AVG, ...) over query_result with "
                   "optional GROUP BY; " + _MOVE_FIX) from None
    header = [str(h) for h in result[0]]
    return [dict(zip(header, (_py(v) for v in row), strict=True)) for row in result[1:]]


def _py(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds."""
    item = getattr(value, "item", None)
    return item() if callable(item) and type(value).__module__ == "numpy" else value
