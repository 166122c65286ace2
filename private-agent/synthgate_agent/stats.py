"""``make-stats``: run the reviewed ``src-stats`` queries read only and collect their results.

Every number written to ``src-stats.yaml`` comes from a query of ``config.yaml``, and only
a single allow-listed SELECT reaches the source (``synthgate_shared.sqlguard``). Results
are streamed and refused past their cap (1,000 rows and 1 MB unless ``max-rows`` or
``max-bytes`` with a ``reason`` raise it). Plain queries have their small counts suppressed
and are flagged when they look row-level; DP queries run through SmartNoise SQL (see
``privacy``). Each query gets its own read-only connection, which is thrown away afterwards
so that nothing a query did to its session (``SET ...``) can reach the next one.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from synthgate_shared import sqlguard
from synthgate_shared.config import Config, SrcStat, load_config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import check_stat_references
from synthgate_shared.files import refuse_overwrite, write_text_atomic
from synthgate_shared.sqltext import row_level_warning
from synthgate_shared.values import to_plain
from synthgate_shared.yamlio import dump_yaml

from synthgate_agent import privacy
from synthgate_agent.roles import permission_error
from synthgate_agent.source import Source, open_source, read_only

MAX_WORKERS = 4
DEFAULT_MAX_ROWS = 1_000  # rows of one statistic's result, unless max-rows raises it
DEFAULT_MAX_BYTES = 1_000_000  # about this many bytes of values, unless max-bytes raises it
FETCH_ROWS = 500  # rows fetched from the source at a time
_LEXING_MODES = {"NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI"}
_COUNT_NAME = re.compile(r"^(count|n|.+_count|count_.+)$", re.IGNORECASE)
# Driver error codes (PostgreSQL SQLSTATE, MariaDB errno) and SQLite messages.
_READ_ONLY = {"25006", 1792, "attempt to write a readonly database"}
_TIMEOUT = {"57014", 1969, 3024, "interrupted"}
_HEADER = """\
# src-stats.yaml: results of the src-stats queries of config.yaml (synthgate-agent make-stats).
# Every value below comes from a query written in the reviewed config.yaml. Entries with a
# dp-query hold differentially private (noisy) results; plain entries may have had rows with
# small counts removed (see min_count and suppressed_rows).
"""


@dataclass(frozen=True)
class QueryRun:
    """What one query did, for the command's progress lines."""

    name: str
    rows: int
    suppressed: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


def _where(stat: SrcStat) -> str:
    return f"src-stats query {stat.name!r}"


def check_statements(config: Config, dialect: str) -> dict[str, list[str]]:
    """Refuse, before anything reaches the source, every query that is not one allow-listed
    SELECT (see ``synthgate_shared.sqlguard``); ``dp-query`` is read as SmartNoise reads it.
    Returns each statistic's warnings (functions that ``allow-functions`` opened)."""
    opened = sqlguard.open_functions(config.allow_functions, dialect)
    found: dict[str, list[str]] = {}
    for stat in config.src_stats:
        warnings = sqlguard.check_query(stat.query, dialect, opened, where=_where(stat))
        if stat.dp_query is not None:
            warnings += sqlguard.check_query(stat.dp_query, "", opened,
                                          where=f"{_where(stat)} dp-query")
        found[stat.name] = list(dict.fromkeys(warnings))
    return found


def result_cap(stat: SrcStat) -> tuple[int, int]:
    """(rows, bytes) a statistic's result may hold: ``max-rows``/``max-bytes`` or the
    defaults (1,000 rows, 1 MB)."""
    return (stat.max_rows or DEFAULT_MAX_ROWS, stat.max_bytes or DEFAULT_MAX_BYTES)


def _value_size(value: Any) -> int:
    """About how many bytes a value takes in ``src-stats.yaml``."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return 4 if value is None else len(str(value))


def _over_cap(stat: SrcStat, rows: int, size: int) -> SynthgateError | None:
    """The refusal of a result of ``rows`` rows and about ``size`` bytes, if over its cap."""
    max_rows, max_bytes = result_cap(stat)
    if rows > max_rows:
        what, key = f"more than {max_rows:,} rows", "max-rows"
    elif size > max_bytes:
        what, key = f"more than {max_bytes:,} bytes", "max-bytes"
    else:
        return None
    return SynthgateError(
        f"refused: the result has {what} (the cap of a statistic); a result this large is "
        "row-level data, which must not leave the secure network", where=_where(stat),
        fix=f"aggregate it into fewer, coarser groups; or, if the reviewers agree, raise `{key}` "
        "for this statistic with a `reason:` (the review shows both)")


def _capped_rows(result: Any, stat: SrcStat, capped: bool) -> list[tuple[Any, ...]]:
    """Fetch the rows in batches; refuse (and stop fetching) as soon as they pass the cap."""
    rows: list[tuple[Any, ...]] = []
    size = 0
    while batch := result.fetchmany(FETCH_ROWS):
        rows.extend(tuple(r) for r in batch)
        if capped:
            size += sum(_value_size(v) for r in batch for v in r)
            refusal = _over_cap(stat, len(rows), size)
            if refusal:
                raise refusal
    return rows


def _query_error(exc: DBAPIError, stat: SrcStat, source: Source) -> SynthgateError:
    orig = exc.orig
    detail = (str(orig or exc).strip().splitlines() or ["unknown error"])[0]
    args = getattr(orig, "args", ())
    codes = {getattr(orig, "pgcode", None), args[0] if args else None, detail}
    role = source.role.name if source.role else None
    denied = permission_error(exc, source.engine.dialect, role, source.schema, _where(stat))
    if denied:
        return denied
    if codes & _READ_ONLY or "read-only transaction" in detail:
        return SynthgateError(
            f"refused: the source is read only and this query tries to write ({detail})",
            where=_where(stat), fix="src-stats queries may only read (SELECT)")
    if codes & _TIMEOUT or "statement timeout" in detail or "INTERRUPT Error" in detail:
        return SynthgateError(
            f"the query ran past the statement timeout of {source.timeout_s:g} s ({detail})",
            where=_where(stat), fix="make the query cheaper, or raise `statement-timeout` in "
            "config.yaml or pass --timeout SECONDS")
    return SynthgateError(f"the query failed: {detail}", where=_where(stat),
                          fix="correct the SQL of this query in config.yaml")


def _use_schema(conn: Any, source: Source) -> None:
    """Let unqualified table names in a query mean the tables of ``--schema``."""
    if not source.schema or source.dialect == "sqlite":
        return
    quoted = conn.dialect.identifier_preparer.quote(source.schema)
    if source.dialect == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL search_path TO {quoted}")
    else:
        conn.exec_driver_sql(f"USE {quoted}")


def sql_mode_as_checked(mode: str) -> str | None:
    """The MySQL ``sql_mode`` without the modes that change where a string literal ends
    (``NO_BACKSLASH_ESCAPES``, ``ANSI_QUOTES`` and ``ANSI``, which holds it), or None when
    ``mode`` has none of them."""
    modes = [m for m in mode.split(",") if m]
    kept = [m for m in modes if m.upper() not in _LEXING_MODES]
    return None if kept == modes else ",".join(kept)


def _pin_session(conn: Any, source: Source) -> None:
    """Make the server read string literals and comments as ``sqlguard`` read them, so that no
    text the check took for a string runs as SQL; plan PostgreSQL cursors for every row."""
    if source.dialect == "postgresql":
        conn.exec_driver_sql("SET LOCAL standard_conforming_strings = on")
        # a cursor would otherwise be planned for its first 10% of rows
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
    elif source.dialect in ("mysql", "mariadb"):
        mode = sql_mode_as_checked(str(conn.exec_driver_sql("SELECT @@SESSION.sql_mode")
                                       .scalar() or ""))
        if mode is not None:
            conn.exec_driver_sql("SET SESSION sql_mode = %s", (mode,))


def _driver_sql(sql: str, conn: Any) -> str:
    """The query as the driver must receive it so that every ``%`` reaches the database."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return sql.replace("%", "%%")
    return sql


def _abandon(result: Any) -> None:
    """Leave the rest of a refused result unread: the connection is closed next, which ends
    the query on the server. PyMySQL would otherwise read every remaining row of a streamed
    (unbuffered) result when it is closed or collected."""
    unbuffered: Any = getattr(result.cursor, "_result", None)
    if getattr(unbuffered, "unbuffered_active", False):
        unbuffered.unbuffered_active = False


def _fetch(source: Source, stat: SrcStat) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``stat.query`` (already through ``check_statements``) on its own read-only
    connection, streamed; a plain query's result is refused past its cap (the rows of a
    DP entry's query stay in the agent). Errors name the query."""
    try:
        with read_only(source) as conn:
            try:
                _use_schema(conn, source)
                _pin_session(conn, source)
                result = conn.execution_options(stream_results=True).exec_driver_sql(
                    _driver_sql(stat.query, conn))
                if not result.returns_rows:
                    raise SynthgateError("the query returns no rows (it is not a SELECT)",
                                         where=_where(stat), fix="write a SELECT")
                columns = list(map(str, result.keys()))
                try:
                    rows = _capped_rows(result, stat, capped=not privacy.is_dp(stat))
                except SynthgateError:
                    _abandon(result)
                    raise
            finally:
                # never hand this session to another query: a SET it ran must die with it;
                # closing it also ends a query refused halfway through its rows
                conn.invalidate()
    except DBAPIError as exc:
        raise _query_error(exc, stat, source) from None
    return columns, rows


def find_count_column(stat: SrcStat, columns: list[str], rows: list[dict[str, Any]]
                      ) -> str | None:
    """The column holding counts: ``count-column`` if given, else the first numeric column
    named ``count``, ``n``, ``*_count`` or ``count_*`` (case-insensitive), else None."""
    if stat.count_column is not None:
        if stat.count_column not in columns:
            raise SynthgateError(
                f"count-column {stat.count_column!r} is not a column of the result "
                f"(it has: {', '.join(columns)})", where=_where(stat),
                fix="name one of the result's columns, or alias the count in the SQL")
        return stat.count_column
    for column in columns:
        values = [r[column] for r in rows if r[column] is not None]
        if _COUNT_NAME.match(column) and all(_is_number(v) for v in values):
            return column
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def suppress_small_counts(stat: SrcStat, rows: list[dict[str, Any]], column: str,
                          min_count: int) -> tuple[list[dict[str, Any]], int]:
    """Drop the rows whose ``column`` is below ``min_count``; return the rest and how many went."""
    kept = []
    for row in rows:
        value = row[column]
        if value is not None and not _is_number(value):
            raise SynthgateError(f"count column {column!r} holds {value!r}, not a number",
                                 where=_where(stat), fix="set count-column to the column "
                                 "that holds the counts")
        if value is None or value >= min_count:
            kept.append(row)
    return kept, len(rows) - len(kept)


def _run_one(source: Source, config: Config, stat: SrcStat, opened: list[str]
             ) -> tuple[dict[str, Any], QueryRun]:
    started = time.monotonic()
    ran_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    columns, raw = _fetch(source, stat)
    entry: dict[str, Any] = {"query": stat.query}
    warnings: list[str] = list(opened)
    suppressed = 0
    if privacy.is_dp(stat):
        results = [to_plain(r) for r in privacy.run_dp_query(stat, columns, raw)]
        refusal = _over_cap(stat, len(results), sum(
            _value_size(v) for r in results for v in r.values()))
        if refusal:
            raise refusal
        entry.update({"dp-query": stat.dp_query, "epsilon": stat.epsilon, "delta": stat.delta,
                      "ran_at": ran_at})
        if not results:
            warnings.append("the dp-query returned no rows: SmartNoise withheld them because "
                            "too few people remain for max_ids, epsilon and delta (raise "
                            "epsilon or delta, or lower max_ids)")
    else:
        results = [{c: to_plain(v) for c, v in zip(columns, r, strict=True)} for r in raw]
        entry["ran_at"] = ran_at
        count_column = find_count_column(stat, columns, results)
        if count_column is not None:
            min_count = config.min_count if stat.min_count is None else stat.min_count
            results, suppressed = suppress_small_counts(stat, results, count_column, min_count)
            entry.update({"min_count": min_count, "count_column": count_column,
                          "suppressed_rows": suppressed})
        warning = row_level_warning(stat.query, source.dialect, len(results))
        if warning:
            warnings.append(warning)
    if warnings:
        entry["warnings"] = warnings
    entry["results"] = results
    run = QueryRun(stat.name, len(results), suppressed, time.monotonic() - started, warnings)
    return entry, run


def make_src_stats(source: Source, config: Config,
                   progress: Callable[[QueryRun], None] | None = None) -> dict[str, Any]:
    """Run every ``src-stats`` query read only and return the data of ``src-stats.yaml``.

    Generators referring to a statistic the config lacks, DP settings and the privacy
    budget are checked before any query runs. With
    ``use-asyncio`` the queries run concurrently (at most four at a time, each on its own
    connection); the result is the same as a serial run, in config order. ``progress``
    is called once per query, in config order.
    """
    check_stat_references(config)
    privacy.validate_privacy(config)
    opened = check_statements(config, source.dialect)
    data: dict[str, Any] = {}
    for stat, (entry, run) in zip(config.src_stats, _run_all(source, config, opened),
                                  strict=True):
        data[stat.name] = entry
        if progress:
            progress(run)
    return data


def _run_all(source: Source, config: Config, opened: dict[str, list[str]]
             ) -> Iterator[tuple[dict[str, Any], QueryRun]]:
    """Run the queries (serially, or four at a time with use-asyncio); yield in config order."""
    stats = config.src_stats
    if not config.use_asyncio or len(stats) < 2:
        for stat in stats:
            yield _run_one(source, config, stat, opened[stat.name])
        return
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(stats))) as pool:
        futures = [pool.submit(_run_one, source, config, s, opened[s.name]) for s in stats]
        try:
            for future in futures:
                yield future.result()
        finally:  # after a failure, start no further query
            for future in futures:
                future.cancel()


def render_src_stats(data: dict[str, Any]) -> str:
    """The text of ``src-stats.yaml``: a short header comment and the data as YAML."""
    return _HEADER + dump_yaml(data)


def make_stats_file(dsn: str, schema: str | None, config_path: Path, stats_path: Path,
                    force: bool, timeout_s: float | None,
                    progress: Callable[[QueryRun], None] | None = None, *,
                    allow_privileged: bool | None = None) -> dict[str, Any]:
    """Load the config, run its queries on the source and write ``src-stats.yaml`` atomically.

    Config, DP and budget errors come before connecting; the output file appears only
    when every query succeeded. Returns the data written.
    """
    if timeout_s is not None and not timeout_s > 0:
        raise SynthgateError(f"--timeout must be a number of seconds above 0, not {timeout_s:g}")
    config = load_config(config_path)
    refuse_overwrite(stats_path, force)
    check_stat_references(config)
    privacy.validate_privacy(config)
    source = open_source(dsn, schema, config.statement_timeout if timeout_s is None
                         else timeout_s, allow_privileged)
    try:
        data = make_src_stats(source, config, progress)
    finally:
        source.engine.dispose()
    write_text_atomic(stats_path, render_src_stats(data))
    return data
