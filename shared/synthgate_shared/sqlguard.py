"""What may run on a database: exactly one parsed SELECT with allow-listed functions.

The agent checks every ``src-stats`` query with it before it reaches the source; the
builder's report checks the bundle's queries the same way before they reach the destination.

``check_query`` reads a ``src-stats`` query with sqlglot for the source dialect and refuses,
with one line naming what it found, anything that is not a single read: other statements
(COPY, SET, SET STATEMENT ... FOR, EXPLAIN, CALL, DO, LOCK, PRAGMA...), data-modifying CTEs,
``SELECT ... INTO``, ``FOR UPDATE/SHARE``, MySQL executable comments and user-variable
assignments. Functions are deny-by-default: sqlglot's typed functions must be in
``SAFE_FUNCTIONS`` (aggregates, ordered-set, window, arithmetic, string, date, cast,
conditional, statistics, random/series), other names in the dialect's ``SAFE_NAMES``.
Functions that read files, administer the server, reach other databases, sleep, lock or
move sequences are refused even when ``allow-functions`` names them; ``allow-functions``
opens any other name, and a row-packing aggregate (``array_agg``, ``string_agg``,
``group_concat``...) only that way, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from synthgate_shared.errors import SynthgateError
from synthgate_shared.sqltext import sqlglot_dialect

# at most this many rows of a grouped subquery may be packed into one value without
# allow-functions: the quantile proposals of SQLite and MariaDB pack 101 percentile buckets
MAX_PACKED_ROWS = 101

SAFE_FUNCTIONS: frozenset[type[exp.Func]] = frozenset({
    # aggregates, ordered-set aggregates and statistics
    exp.Count, exp.CountIf, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Median, exp.Mode,
    exp.AnyValue, exp.ApproxDistinct, exp.ApproxQuantile, exp.PercentileCont,
    exp.PercentileDisc, exp.Quantile, exp.Stddev, exp.StddevPop, exp.StddevSamp,
    exp.Variance, exp.VariancePop, exp.Corr, exp.CovarPop, exp.CovarSamp, exp.RegrAvgx,
    exp.RegrAvgy, exp.RegrCount, exp.RegrIntercept, exp.RegrR2, exp.RegrSlope, exp.RegrSxx,
    exp.RegrSxy, exp.RegrSyy, exp.RegrValx, exp.RegrValy, exp.LogicalAnd, exp.LogicalOr,
    exp.BitwiseAndAgg, exp.BitwiseOrAgg, exp.BitwiseXorAgg, exp.Kurtosis, exp.Skewness,
    exp.Grouping, exp.GroupingId,
    # window functions
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.PercentRank, exp.CumeDist, exp.Ntile,
    exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue,
    # arithmetic and mathematics
    exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Trunc, exp.Sign, exp.Sqrt, exp.Cbrt,
    exp.Pow, exp.Exp, exp.Ln, exp.Log, exp.Degrees, exp.Radians, exp.Sin, exp.Cos, exp.Tan,
    exp.Asin, exp.Acos, exp.Atan, exp.Atan2, exp.Sinh, exp.Cosh, exp.Tanh, exp.Cot, exp.Pi,
    exp.WidthBucket, exp.SafeDivide, exp.IsNan, exp.IsInf,
    # strings and pattern matching (~, REGEXP, RLIKE are RegexpLike)
    exp.Length, exp.BitLength, exp.ByteLength, exp.Lower, exp.Upper, exp.Substring,
    exp.Trim, exp.Pad, exp.Left, exp.Right, exp.StrPosition, exp.Replace, exp.Reverse,
    exp.Concat, exp.ConcatWs, exp.SplitPart, exp.Initcap, exp.RegexpLike, exp.RegexpILike,
    exp.RegexpReplace, exp.RegexpSubstr, exp.RegexpCount, exp.RegexpInstr,
    exp.RegexpExtract, exp.RegexpFullMatch, exp.StartsWith, exp.EndsWith, exp.Contains,
    exp.Ascii, exp.Chr, exp.MD5, exp.Translate, exp.Format, exp.NumberToStr, exp.ToChar,
    exp.ToNumber, exp.Collate, exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract,
    exp.JSONBExtractScalar,
    # dates, times and epoch conversions
    exp.Extract, exp.Date, exp.Datetime, exp.Time, exp.Timestamp, exp.DateAdd, exp.DateSub,
    exp.DateDiff, exp.DateTrunc, exp.DateBin, exp.DatetimeAdd, exp.DatetimeSub,
    exp.DatetimeDiff, exp.DatetimeTrunc, exp.TimestampAdd, exp.TimestampSub,
    exp.TimestampDiff, exp.TimestampTrunc, exp.TimeAdd, exp.TimeSub, exp.TimeDiff,
    exp.TimeTrunc, exp.CurrentDate, exp.CurrentTime, exp.CurrentTimestamp,
    exp.CurrentDatetime, exp.Localtime, exp.Localtimestamp, exp.UtcDate, exp.UtcTime,
    exp.UtcTimestamp, exp.Year, exp.Quarter, exp.Month, exp.Week, exp.WeekOfYear, exp.Day,
    exp.DayOfMonth, exp.DayOfWeek, exp.DayOfWeekIso, exp.DayOfYear, exp.Hour, exp.Minute,
    exp.Second, exp.Dayname, exp.Monthname, exp.LastDay, exp.AddMonths, exp.MonthsBetween,
    exp.MakeInterval, exp.JustifyDays, exp.JustifyHours, exp.JustifyInterval,
    exp.DateFromParts, exp.TimestampFromParts, exp.TimeFromParts, exp.StrToDate,
    exp.StrToTime, exp.StrToUnix, exp.TimeToStr, exp.TimeToUnix, exp.TimeStrToDate,
    exp.TimeStrToTime, exp.TimeStrToUnix, exp.UnixToTime, exp.UnixToStr, exp.UnixToTimeStr,
    exp.UnixSeconds, exp.UnixMillis, exp.UnixMicros, exp.UnixDate, exp.DateToDateStr,
    exp.DateStrToDate, exp.TsOrDsToDate, exp.TsOrDsToTimestamp, exp.TsOrDsToDatetime,
    exp.TsOrDsToTime, exp.TsOrDsAdd, exp.TsOrDsDiff, exp.TsOrDsToDateStr,
    # casts, conditionals and the syntax sqlglot models as functions
    exp.Cast, exp.TryCast, exp.CastToStrType, exp.Convert, exp.Case, exp.If, exp.Coalesce,
    exp.Nullif, exp.Nvl2, exp.Greatest, exp.Least, exp.EqualNull, exp.And, exp.Or, exp.Xor,
    exp.Exists, exp.Array, exp.ArraySize, exp.Unnest, exp.Typeof,
    # random numbers and series
    exp.Rand, exp.GenerateSeries, exp.ExplodingGenerateSeries,
})

# names sqlglot does not model (exp.Anonymous), per source dialect
_COMMON_NAMES = {"octet_length", "isnull", "now"}
SAFE_NAMES: dict[str, frozenset[str]] = {
    "postgresql": frozenset(_COMMON_NAMES | {
        "every", "btrim", "age", "make_date", "isfinite", "to_regclass", "current_setting",
        "num_nulls", "num_nonnulls", "cardinality", "array_lower", "array_upper",
        "regexp_match", "gcd", "lcm", "scale", "trim_scale", "textlen", "date_bin",
        "timezone"}),
    "mysql": frozenset(_COMMON_NAMES | {
        "unix_timestamp", "std", "mid", "lcase", "ucase", "instr", "str_to_date",
        "from_days", "to_seconds", "time_to_sec", "sec_to_time", "weekday", "yearweek",
        "curdate", "curtime", "utc_timestamp", "makedate", "bit_count", "timestampadd"}),
    "sqlite": frozenset(_COMMON_NAMES | {
        "julianday", "unixepoch", "date", "time", "datetime", "total", "instr", "printf",
        "format", "likely", "unlikely", "likelihood", "unicode", "char", "hex",
        "timestampadd"}),
    "duckdb": frozenset(_COMMON_NAMES | {
        "every", "btrim", "date_part", "age", "isfinite", "date_sub", "datediff",
        "strptime", "epoch_ns", "epoch_us"}),
}
SAFE_NAMES["mariadb"] = SAFE_NAMES["mysql"]
# generic SQL: the dp-query, which SmartNoise SQL runs over the query's rows in the agent
SAFE_NAMES[""] = frozenset(_COMMON_NAMES | {"var", "std", "choose", "newid"})

ROW_PACKING: frozenset[type[exp.Func]] = frozenset({
    exp.ArrayAgg, exp.GroupConcat, exp.JSONArrayAgg, exp.JSONObjectAgg, exp.JSONBObjectAgg,
    exp.ObjectAgg, exp.ArrayConcatAgg, exp.ArrayUnionAgg, exp.ArrayUniqueAgg, exp.List,
})
ROW_PACKING_NAMES = frozenset({
    "array_agg", "string_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
    "group_concat", "listagg", "xmlagg", "json_arrayagg", "json_objectagg", "json_group_array",
    "json_group_object", "histogram", "list", "array"})

# (pattern, why): refused even when allow-functions names them
_FORBIDDEN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), why) for pattern, why in (
        (r"^(pg_read_(binary_)?file|pg_ls_\w+|pg_stat_file|pg_file_\w+|load_file|readfile|"
         r"writefile|read_(csv|csv_auto|parquet|json|json_auto|json_objects|ndjson|text|"
         r"blob)|glob|parquet_scan|lo_\w+|pg_logdir_ls)$",
         "reads or writes files on the database server"),
        (r"^(pg_reload_conf|pg_switch_wal|pg_switch_xlog|pg_stat_reset\w*|pg_cancel_backend|"
         r"pg_terminate_backend|set_config|pg_rotate_logfile|pg_create_restore_point|"
         r"pg_promote|pg_(start|stop)_backup|pg_backup_(start|stop)|pg_wal_replay_\w+|"
         r"pg_\w*replication\w*|pg_logical_\w+|pg_log_backend_memory_contexts|"
         r"pg_import_system_collations|load_extension|setseed|pg_notify|"
         r"txid_current|pg_current_xact_id)$",
         "changes the server or its sessions"),
        (r"^(dblink\w*|postgres_fdw\w*|\w*_fdw_\w*)$",
         "reaches another database or server"),
        (r"^(pg_sleep\w*|sleep|benchmark)$", "sleeps or burns server time"),
        (r"^(pg_(try_)?advisory_\w+|get_lock|release_lock|release_all_locks|is_free_lock|"
         r"is_used_lock|master_pos_wait|source_pos_wait)$", "takes or waits for locks"),
        (r"^(nextval|setval|currval|lastval|next_value_for)$", "moves a sequence"),
    ))

# catalogs that hold credentials or other sessions' statements: never read into a bundle
_SECRET_TABLES = frozenset({
    "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_largeobject",
    "pg_hba_file_rules", "pg_ident_file_mappings", "pg_file_settings", "pg_stat_activity",
    "processlist"})
_SECRET_SCHEMAS = frozenset({"mysql", "performance_schema", "sys"})

# statements and clauses that are not a plain read wherever they appear in the tree
_NOT_A_READ: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Into, "SELECT ... INTO writes a table, file or variable"),
    (exp.Lock, "FOR UPDATE/FOR SHARE/LOCK IN SHARE MODE locks rows"),
    (exp.DML, "a data-modifying statement inside the query"),
    (exp.DDL, "a data-defining statement inside the query"),
    (exp.Command, "a statement other than SELECT inside the query"),
    (exp.Set, "SET inside the query"),
    (exp.Pragma, "PRAGMA inside the query"),
)
_FIX = ("a statistic is exactly one SELECT of aggregates; remove it, or compute the statistic "
        "another way")


@dataclass(frozen=True)
class Opened:
    """The names ``allow-functions`` opens, resolved for one dialect."""

    names: frozenset[str]
    classes: frozenset[type[exp.Func]]


def function_name(func: exp.Func, dialect: str) -> str:
    """The name of a function as the source dialect writes it (lower case)."""
    if isinstance(func, exp.Anonymous | exp.AnonymousAggFunc):
        return str(func.name).lower()
    head = func.sql(dialect=sqlglot_dialect(dialect)).split("(", 1)[0].strip()
    return head.lower() if re.fullmatch(r"[A-Za-z_]\w*", head) else func.key


def forbidden_reason(name: str) -> str | None:
    """Why a function may never run on the source (files, admin, sleep...), or None."""
    low = name.lower()
    return next((why for pattern, why in _FORBIDDEN if pattern.match(low)), None)


def open_functions(names: Iterable[str], dialect: str) -> Opened:
    """Resolve ``allow-functions`` for ``dialect``; refuse names that may never run."""
    read = sqlglot_dialect(dialect)
    lowered = {n.lower() for n in names}
    classes: set[type[exp.Func]] = set()
    for name in sorted(lowered):
        why = forbidden_reason(name)
        if why:
            raise SynthgateError(
                f"{name}() {why} and cannot be opened",
                where="config.yaml allow-functions", fix=f"remove {name!r} from allow-functions")
        for args in ("x", "x, y", ""):
            try:
                tree = sqlglot.parse_one(f"SELECT {name}({args})", read=read)
            except sqlglot.errors.SqlglotError:
                continue
            func = tree.find(exp.Func)
            if func is not None and not isinstance(func, exp.Anonymous):
                classes.add(type(func))
            break
    return Opened(frozenset(lowered), frozenset(classes))


def _refuse(what: str, where: str, fix: str = _FIX) -> SynthgateError:
    return SynthgateError(f"refused: {what}", where=where, fix=fix)


def _unreadable(exc: sqlglot.errors.SqlglotError, where: str) -> SynthgateError:
    return SynthgateError(
        f"the query cannot be read as SQL (syntax error: {str(exc).splitlines()[0]})",
        where=where, fix="correct the SQL in config.yaml; make-stats runs only what it can "
        "read and check, so rewrite a construct it cannot read")


def _tokens(sql: str, read: str, where: str) -> list[Token]:
    try:
        return list(sqlglot.tokenize(sql, read=read))
    except sqlglot.errors.SqlglotError as exc:
        raise _unreadable(exc, where) from None


def _check_tokens(tokens: list[Token], dialect: str, where: str) -> None:
    kinds = [t.token_type for t in tokens]
    while kinds and kinds[-1] == TokenType.SEMICOLON:
        kinds.pop()
    if TokenType.SEMICOLON in kinds:
        raise SynthgateError(
            "the query holds more than one SQL statement; the source is read only and "
            "a statistic is exactly one SELECT", where=where,
            fix="split it into separate src-stats entries")
    if kinds and kinds[0] in (TokenType.SELECT, TokenType.WITH) and TokenType.INTO in kinds:
        raise _refuse("SELECT ... INTO writes a table, file or variable; the source is read "
                      "only", where, "remove the INTO clause")
    if dialect in ("mysql", "mariadb"):
        for token in tokens:
            for comment in token.comments:
                # MySQL and MariaDB run the text of /*! ... */ and /*M! ... */ as SQL
                if comment.lstrip().startswith(("!", "M!")):
                    raise _refuse("an executable comment (/*! ... */) runs SQL the check "
                                  "cannot see", where, "remove the comment")


def _parse_one(sql: str, tokens: list[Token], read: str, where: str) -> exp.Expr:
    try:
        parser = sqlglot.Dialect.get_or_raise(read).parser()
        trees = [t for t in parser.parse(tokens, sql) if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise _unreadable(exc, where) from None
    if len(trees) != 1:
        raise SynthgateError(
            "the query holds more than one SQL statement; the source is read only and "
            "a statistic is exactly one SELECT" if trees else "the query is empty",
            where=where, fix="write exactly one SELECT")
    return trees[0]


def _statement_kind(tree: exp.Expr, tokens: list[Token]) -> str:
    words = [t.text.upper() for t in tokens[:2]]
    if words == ["SET", "STATEMENT"]:
        return "SET STATEMENT ... FOR (it changes settings such as the timeout)"
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    return words[0] if words else tree.key.upper()


def _bounded_packing(func: exp.Func) -> bool:
    """Whether a row-packing aggregate packs a provably small result: the only source of
    its SELECT is a subquery grouped by one column and kept to at most
    ``MAX_PACKED_ROWS`` listed values of it by ``HAVING column IN (...)``."""
    select = func.find_ancestor(exp.Select)
    if select is None or select.args.get("joins") or select.args.get("group"):
        return False
    source = select.args.get("from_")
    inner = source.this if isinstance(source, exp.From) else None
    if not isinstance(inner, exp.Subquery) or not isinstance(inner.this, exp.Select):
        return False
    grouped = inner.this
    group = grouped.args.get("group")
    having = grouped.args.get("having")
    if group is None or len(group.expressions) != 1 or having is None:
        return False
    key, cond = group.expressions[0], having.this
    return (isinstance(key, exp.Column) and isinstance(cond, exp.In)
            and isinstance(cond.this, exp.Column) and cond.this.name == key.name
            and not cond.args.get("query")
            and all(isinstance(v, exp.Literal) for v in cond.expressions)
            and len(cond.expressions) <= MAX_PACKED_ROWS)


def _check_function(func: exp.Func, dialect: str, opened: Opened, where: str
                    ) -> str | None:
    """Refuse a function that may not run; return a warning when allow-functions opened it."""
    anonymous = isinstance(func, exp.Anonymous | exp.AnonymousAggFunc)
    if type(func) in SAFE_FUNCTIONS and not (isinstance(func, exp.Array)
                                            and func.find(exp.Query) is not None):
        return None
    name = function_name(func, dialect)
    packs = (name in ROW_PACKING_NAMES if anonymous else type(func) in ROW_PACKING) or (
        isinstance(func, exp.Array) and func.find(exp.Query) is not None)
    why = forbidden_reason(name)
    if why:
        raise _refuse(f"the function {name}() {why}; it never runs on the source", where,
                      f"remove {name}() from the query")
    is_open = name in opened.names or type(func) in opened.classes
    if packs:
        if is_open:
            return (f"{name}() packs the values of many rows into one; opened by "
                    "allow-functions: check that the result holds no row-level data")
        if _bounded_packing(func):
            return None
        raise _refuse(f"{name}() packs the values of many rows into one value (row-level "
                      "data)", where, "count or summarise the values instead (GROUP BY with "
                      f"count(*)); or, if the reviewers agree, name {name} in allow-functions")
    if anonymous and name in SAFE_NAMES.get(dialect, frozenset()):
        return None
    if is_open:
        return f"{name}() is not on the allow-list; opened by allow-functions"
    raise _refuse(f"the function {name}() is not on the allow-list of functions make-stats "
                  "may run", where, f"remove {name}(); or, if it only computes and reads "
                  f"nothing beyond its arguments, name {name} in allow-functions in "
                  "config.yaml (the review shows it)")


def _check_table(table: exp.Table, dialect: str, where: str) -> None:
    name, schema = table.name.lower(), table.db.lower()
    if name in _SECRET_TABLES or (dialect in ("mysql", "mariadb") and schema in _SECRET_SCHEMAS):
        shown = f"{schema}.{name}" if schema else name
        raise _refuse(f"the table {shown} holds credentials or other sessions' statements",
                      where, "read only the tables of the database being described")
    if dialect == "duckdb" and re.search(r"[./\\:]", table.name):
        raise _refuse(f"the table name {table.name!r} reads a file", where)


def _check_tree(tree: exp.Expr, dialect: str, opened: Opened, where: str) -> list[str]:
    warnings: list[str] = []
    for node in tree.walk():
        for kind, what in _NOT_A_READ:
            if isinstance(node, kind):
                raise _refuse(f"{what}; the source is read only", where)
        if isinstance(node, exp.PropertyEQ) and isinstance(node.this, exp.Parameter):
            raise _refuse("assigning a user variable (@name := ...) changes the session",
                          where, "remove the assignment")
        if isinstance(node, exp.Table):
            _check_table(node, dialect, where)
        if isinstance(node, exp.Func):
            warning = _check_function(node, dialect, opened, where)
            if warning and warning not in warnings:
                warnings.append(warning)
    return warnings


def check_query(sql: str, dialect: str, opened: Opened | None = None, *,
                where: str) -> list[str]:
    """Refuse ``sql`` unless it is exactly one SELECT (or UNION/INTERSECT/EXCEPT of
    SELECTs, with CTEs that only read) whose functions are allow-listed for ``dialect``.

    ``dialect`` is a SQLAlchemy dialect name (``""`` reads generic SQL, as SmartNoise
    does). Returns the warnings for the reviewer: functions that ``opened`` let through.
    """
    read = sqlglot_dialect(dialect)
    tokens = _tokens(sql, read, where)
    _check_tokens(tokens, dialect, where)
    tree = _parse_one(sql, tokens, read, where)
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise _refuse(f"this is {_statement_kind(tree, tokens)}, not a SELECT; the source is "
                      "read only and make-stats runs exactly one SELECT per query", where,
                      "write one SELECT")
    return _check_tree(tree, dialect, opened or Opened(frozenset(), frozenset()), where)

