"""Fidelity report: the proposed aggregates measured again on the synthetic database.

``build_report`` runs every ``auto__*`` query of ``src-stats.yaml`` on the destination
(translated with sqlglot when its dialect differs from the source's; a ``dp-query`` runs
over its ``query`` as a subquery) and compares the results with the source's: total
variation distance of frequencies, Kolmogorov-Smirnov statistic of quantiles and
histograms, null-fraction differences, children-per-parent distance, correlation
differences; then checks referential integrity and key uniqueness by query. It needs no
access to the source.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlglot import exp
from synthgate_shared import sqlguard
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import (
    THRESHOLDS,
    StatName,
    pair_correlation,
    parse_quantiles,
    parse_stat_name,
)
from synthgate_shared.files import write_text_atomic
from synthgate_shared.orm import OrmModel
from synthgate_shared.sqltext import sqlglot_dialect
from synthgate_shared.values import to_plain

# --fail-under keys -> the summary figure they bound (from above)


@dataclass
class Metric:
    """One comparison: ``kind`` (tvd, joint_tvd, ks, length_ks, nulls, children, corr, order,
    rows, fk, unique), where it applies, its value and, for plots, the two distributions."""

    kind: str
    table: str
    subject: str
    value: float
    source: list[tuple[Any, float]] = field(default_factory=list)
    synthetic: list[tuple[Any, float]] = field(default_factory=list)
    plot: str | None = None  # "bars" (labels, shares) or "cdf" (values, probabilities)


@dataclass
class Custom:
    """A hand-written statistic run again on the synthetic database: its result rows there
    next to the bundle's."""

    name: str
    source: list[dict[str, Any]]
    synthetic: list[dict[str, Any]]


@dataclass
class FidelityReport:
    """All metrics, the hand-written statistics run again, the statistics that could not be
    compared (with why), and a summary."""

    metrics: list[Metric] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    custom: list[Custom] = field(default_factory=list)

    def values(self, kind: str) -> list[float]:
        """The values of the metrics of one kind."""
        return [m.value for m in self.metrics if m.kind == kind and not math.isnan(m.value)]

    def summary(self) -> dict[str, float | None]:
        """The headline figures keyed like ``--fail-under`` (None: nothing to measure)."""
        def median(kind: str) -> float | None:
            vals = self.values(kind)
            return statistics.median(vals) if vals else None

        def largest(kind: str) -> float | None:
            vals = self.values(kind)
            return max(vals) if vals else None

        return {"tvd": median("tvd"), "ks": median("ks"), "children": largest("children"),
                "nulls": largest("nulls"), "corr": largest("corr"), "rows": largest("rows"),
                "fk": sum(self.values("fk")), "unique": sum(self.values("unique"))}


def parse_thresholds(items: Iterable[str]) -> dict[str, float]:
    """``KEY=VALUE`` pairs of ``--fail-under``; an unknown key or a bad number is an error."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in THRESHOLDS:
            raise SynthgateError(f"bad --fail-under {item!r}", fix="use KEY=VALUE with KEY one "
                                 f"of {', '.join(THRESHOLDS)}, e.g. --fail-under tvd=0.05")
        try:
            out[key] = float(value)
        except ValueError:
            raise SynthgateError(f"bad --fail-under {item!r}: {value!r} is not a number",
                                 fix="e.g. --fail-under ks=0.05") from None
    return out


def failures(report: FidelityReport, thresholds: dict[str, float]) -> list[str]:
    """One line per summary figure above its threshold."""
    summary = report.summary()
    out = []
    for key, limit in thresholds.items():
        value = summary.get(key)
        if value is not None and value > limit:
            out.append(f"{THRESHOLDS[key]} is {value:.4g} (threshold {key}={limit:g})")
    return out


def check_schema(engine: Engine, schema: str | None, model: OrmModel,
                 ignored: set[str]) -> None:
    """Refuse a destination that lacks a table or column of ``orm.yaml`` (named in the error)."""
    inspector = sa.inspect(engine)
    present = set(inspector.get_table_names(schema=schema))
    for table in model.tables.values():
        if table.name in ignored:
            continue
        if table.name not in present:
            raise SynthgateError(
                f"the destination has no table {table.name!r} of orm.yaml",
                where=f"schema {schema}" if schema else "destination database",
                fix="run create-tables and create-data first, or pass the right --dsn/--schema")
        columns = {c["name"] for c in inspector.get_columns(table.name, schema=schema)}
        for column in table.columns:
            if column.name not in columns:
                raise SynthgateError(
                    f"table {table.name!r} of the destination has no column {column.name!r} "
                    "of orm.yaml", fix="re-create the tables from this bundle's orm.yaml")


def synthetic_sql(entry: dict[str, Any], source_dialect: str, dest_dialect: str) -> str:
    """The statistic's SQL for the destination: a ``dp-query`` over its ``query`` (inlined
    as the ``query_result`` subquery) as an exact query, translated between dialects."""
    read = sqlglot_dialect(source_dialect)
    write = sqlglot_dialect(dest_dialect)
    if entry.get("dp-query"):
        outer = sqlglot.parse_one(str(entry["dp-query"]), read=read)
        inner = sqlglot.parse_one(str(entry["query"]), read=read)
        for table in list(outer.find_all(exp.Table)):
            if table.name.lower() == "query_result":
                table.replace(exp.Subquery(this=inner.copy(),
                                           alias=exp.TableAlias(this=exp.to_identifier(
                                               "query_result"))))
        return outer.sql(dialect=write)
    query = str(entry["query"])
    if read == write:
        return query
    return sqlglot.transpile(query, read=read, write=write)[0]


def _use_schema(conn: Connection, schema: str | None) -> None:
    if not schema or conn.dialect.name == "sqlite":
        return
    quoted = conn.dialect.identifier_preparer.quote(schema)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL search_path TO {quoted}")
    else:
        conn.exec_driver_sql(f"USE {quoted}")


def _read_only(conn: Connection) -> None:
    """Make the connection's transaction read only (SQLite: the connection, until reset)."""
    name = conn.dialect.name
    if name == "postgresql" or name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif name == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = 1")


def _run(engine: Engine, schema: str | None, sql: str) -> list[dict[str, Any]]:
    """The rows of one checked SELECT, run read only and rolled back."""
    with engine.connect() as conn:
        try:
            _read_only(conn)
            _use_schema(conn, schema)
            result = conn.exec_driver_sql(sql)
            return [{k: to_plain(v) for k, v in row.items()} for row in result.mappings()]
        finally:
            conn.rollback()
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = 0")


def _shares(rows: list[dict[str, Any]], keys: list[str], min_count: int) -> dict[Any, float]:
    """Normalised frequencies of the rows (keyed by the value tuple), after dropping the
    rows below ``min_count`` as the source's were."""
    counts: dict[Any, float] = {}
    for row in rows:
        n = row.get("n")
        if not isinstance(n, int | float) or n < min_count:
            continue
        key = tuple(_label(row.get(k)) for k in keys)
        counts[key] = counts.get(key, 0.0) + max(float(n), 0.0)
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total > 0 else {}


def _label(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def total_variation(p: dict[Any, float], q: dict[Any, float]) -> float:
    """Total variation distance of two distributions given as shares."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def ks_from_quantiles(src: tuple[list[float], list[float]],
                      syn: tuple[list[float], list[float]]) -> float:
    """Kolmogorov-Smirnov statistic of two distributions known by (probabilities, values),
    with linear interpolation of each CDF between its points."""
    (p1, x1), (p2, x2) = src, syn
    if not x1 or not x2:
        return math.nan
    grid = np.union1d(x1, x2)
    f1 = np.interp(grid, x1, p1, left=0.0, right=1.0)
    f2 = np.interp(grid, x2, p2, left=0.0, right=1.0)
    return float(np.max(np.abs(f1 - f2)))


def _histogram_cdf(rows: list[dict[str, Any]]) -> tuple[list[float], list[float], float]:
    """(cumulative probabilities, bin numbers, null share) of histogram rows ``{bin, n}``."""
    counts: dict[int, float] = {}
    nulls = 0.0
    for row in rows:
        n = max(float(row.get("n") or 0), 0.0)
        if row.get("bin") is None:
            nulls += n
        else:
            counts[int(row["bin"])] = counts.get(int(row["bin"]), 0.0) + n
    total = sum(counts.values())
    if total <= 0:
        return [], [], 1.0 if nulls else 0.0
    bins = sorted(counts)
    cum = np.cumsum([counts[b] for b in bins]) / total
    return [0.0, *cum.tolist()], [bins[0] - 1.0, *map(float, bins)], nulls / (total + nulls)


def _compare_profile(table: str, src: dict[str, Any], syn: dict[str, Any], scale: float,
                     report: FidelityReport) -> None:
    n_src, n_syn = float(src.get("n") or 0), float(syn.get("n") or 0)
    # an empty source table: any synthetic row is a whole table too many
    deviation = abs(n_syn / (n_src * scale) - 1.0) if n_src * scale > 0 else float(n_syn > 0)
    report.metrics.append(Metric("rows", table, "row count", deviation,
                                 [("source x scale", n_src * scale)], [("synthetic", n_syn)]))
    for key, value in src.items():
        column, _, what = key.rpartition("__")
        if what == "nonnull" and n_src > 0 and n_syn > 0 and key in syn:
            report.metrics.append(Metric("nulls", table, column, abs(
                (1 - float(value) / n_src) - (1 - float(syn[key] or 0) / n_syn))))
        elif what in ("q", "len_q") and value is not None:
            kind = "ks" if what == "q" else "length_ks"
            place = f"{table}.{column}"
            s_points = parse_quantiles(value, place)
            if syn.get(key) is None:
                report.metrics.append(Metric(kind, table, column, 1.0))
                continue
            y_points = parse_quantiles(syn[key], place)
            subject = column if what == "q" else f"{column} (length)"
            report.metrics.append(Metric(
                kind, table, subject, ks_from_quantiles(s_points, y_points),
                list(zip(s_points[1], s_points[0], strict=True)),
                list(zip(y_points[1], y_points[0], strict=True)), "cdf"))
        elif what in ("corr", "moments"):
            a, _, b = column.partition("__")
            r_src, r_syn = pair_correlation(src, a, b), pair_correlation(syn, a, b)
            if r_src is not None:
                report.metrics.append(Metric("corr", table, f"{a} ~ {b}", abs(
                    r_src - (r_syn if r_syn is not None else 0.0)),
                    [("source", r_src)], [("synthetic", r_syn or 0.0)]))


def _compare(parsed: StatName, entry: dict[str, Any], syn_rows: list[dict[str, Any]],
             scale: float, report: FidelityReport) -> None:
    src_rows = list(entry.get("results") or [])
    min_count = int(entry.get("min_count") or 0)
    table, subject = parsed.table, ", ".join(parsed.columns)
    if parsed.kind == "profile":
        if src_rows and syn_rows:
            _compare_profile(table, src_rows[0], syn_rows[0], scale, report)
        elif not src_rows:  # a bundle made before row counts were released exactly
            report.skipped.append(f"{entry['name']}: the source row count was suppressed "
                                  f"(fewer than {min_count} rows), so {table}'s row count "
                                  "is not compared")
        return
    if parsed.kind == "order":
        if src_rows and syn_rows:
            _compare_order(table, src_rows[0], syn_rows[0], report)
        return
    if parsed.kind in ("parents", "per_parent"):  # children fallbacks, compared there
        return
    if parsed.kind in ("freq", "joint", "children"):
        keys = ["n_children"] if parsed.kind == "children" else list(parsed.columns)
        p, q = _shares(src_rows, keys, 0), _shares(syn_rows, keys, min_count)
        if not p:
            report.skipped.append(f"{entry['name']}: every source row was suppressed")
            return
        kind = {"freq": "tvd", "joint": "joint_tvd", "children": "children"}[parsed.kind]
        label = (lambda k: k[0]) if len(keys) == 1 else (lambda k: " / ".join(map(str, k)))
        order = sorted(set(p) | set(q), key=lambda k: (-p.get(k, 0.0), str(k)))
        report.metrics.append(Metric(
            kind, table, subject, total_variation(p, q),
            [(label(k), p.get(k, 0.0)) for k in order], [(label(k), q.get(k, 0.0)) for k in order],
            "bars"))
        return
    # histogram (differentially private numbers and text lengths)
    cum_s, bins_s, null_s = _histogram_cdf(src_rows)
    cum_y, bins_y, null_y = _histogram_cdf(syn_rows)
    report.metrics.append(Metric("ks", table, subject, ks_from_quantiles(
        (cum_s, bins_s), (cum_y, bins_y)), list(zip(bins_s, cum_s, strict=True)),
        list(zip(bins_y, cum_y, strict=True)), "cdf"))
    report.metrics.append(Metric("nulls", table, subject, abs(null_s - null_y)))


def _compare_order(table: str, src: dict[str, Any], syn: dict[str, Any],
                   report: FidelityReport) -> None:
    """Per date pair of an ``order`` statistic: the share of rows with b >= a (among those
    where both are known), source against synthetic."""
    for key, both in src.items():
        if not key.endswith("__both") or not isinstance(both, int | float) or not both:
            continue
        pair = key[:-len("__both")]
        s_share = float(src.get(f"{pair}__ge") or 0) / both
        y_both = syn.get(key)
        y_share = float(syn.get(f"{pair}__ge") or 0) / y_both if y_both else 0.0
        b, _, a = pair.partition("__")
        report.metrics.append(Metric("order", table, f"{b} >= {a}", abs(s_share - y_share),
                                     [("source", s_share)], [("synthetic", y_share)]))


def _integrity(engine: Engine, schema: str | None, model: OrmModel, ignored: set[str],
               report: FidelityReport) -> None:
    """Foreign-key violations and duplicate keys, each counted by one query."""
    def tab(name: str, cols: Iterable[str]) -> sa.TableClause:
        return sa.table(name, *(sa.column(c) for c in cols), schema=schema)

    with engine.connect() as conn:
        for t in model.tables.values():
            if t.name in ignored:
                continue
            for fk in t.foreign_keys:
                if fk.ref_table in ignored or fk.ref_table not in model.tables:
                    continue
                child = tab(t.name, fk.columns).alias("c")
                parent = tab(fk.ref_table, fk.ref_columns).alias("p")
                match = sa.and_(*(parent.c[r] == child.c[c]
                                  for c, r in zip(fk.columns, fk.ref_columns, strict=True)))
                query = sa.select(sa.func.count()).select_from(child).where(
                    *(child.c[c].is_not(None) for c in fk.columns),
                    ~sa.exists().where(match))
                bad = conn.execute(query).scalar_one()
                report.metrics.append(Metric("fk", t.name, f"{', '.join(fk.columns)} -> "
                                             f"{fk.ref_table}", float(bad)))
            keys = ([("primary key", t.primary_key)] if t.primary_key else []) + [
                (u.name or "unique", u.columns) for u in t.unique]
            for label, cols in keys:
                table = tab(t.name, cols)
                groups = sa.select(*(table.c[c] for c in cols)).where(
                    *(table.c[c].is_not(None) for c in cols)).group_by(
                    *(table.c[c] for c in cols)).having(sa.func.count() > 1).subquery()
                dup = conn.execute(sa.select(sa.func.count()).select_from(groups)).scalar_one()
                report.metrics.append(Metric("unique", t.name, f"{label} ({', '.join(cols)})",
                                             float(dup)))


def build_report(engine: Engine, schema: str | None, model: OrmModel,
                 src_stats: dict[str, Any], ignored: Iterable[str] = (),
                 scale: float = 1.0, verbatim: Iterable[str] = ()) -> FidelityReport:
    """Compare the synthetic database with ``src-stats.yaml`` (see the module docstring).

    ``src_stats`` is the mapping of ``src-stats.yaml``; ``ignored`` the tables the config
    ignores; ``scale`` the ``--scale`` of ``create-data`` (row counts are compared with
    ``scale`` times the source's); ``verbatim`` the vocabulary tables, copied rather than
    generated, so their statistics are not compared. A destination that does not match
    ``orm.yaml`` is an error.
    """
    skip = set(ignored)
    copied = set(verbatim)
    check_schema(engine, schema, model, skip)
    report = FidelityReport()
    for name, entry in src_stats.items():
        if not isinstance(entry, dict):
            continue
        parsed = parse_stat_name(str(name), model.tables)
        if parsed is None:
            reason = _custom_problem(entry, model.source.dialect, skip)
            if reason:
                report.skipped.append(f"{name}: {reason}")
                continue
        elif parsed.table in skip | copied:
            continue
        entry = {**entry, "name": name}
        rows = _run_checked(engine, schema, model, entry, report)
        if rows is None:
            continue
        if parsed is None:
            report.custom.append(Custom(str(name), list(entry.get("results") or []), rows))
        else:
            _compare(parsed, entry, rows, scale, report)
    _integrity(engine, schema, model, skip, report)
    return report


def _run_checked(engine: Engine, schema: str | None, model: OrmModel, entry: dict[str, Any],
                 report: FidelityReport) -> list[dict[str, Any]] | None:
    """A statistic's rows on the destination, after ``sqlguard.check_query`` (None, with a
    note in ``report.skipped``, when it is refused or fails)."""
    name = entry["name"]
    try:
        sql = synthetic_sql(entry, model.source.dialect, engine.dialect.name)
        sqlguard.check_query(sql, engine.dialect.name, where=f"src-stats query {name!r}")
        return _run(engine, schema, sql)
    except (DBAPIError, sqlglot.errors.SqlglotError, SynthgateError) as exc:
        detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        report.skipped.append(f"{name}: cannot run on the destination ({detail})")
        return None


def _custom_problem(entry: dict[str, Any], dialect: str, ignored: set[str]) -> str | None:
    """Why a hand-written statistic is not run again on the destination (None: it is a
    plain SQL aggregate over tables the destination has)."""
    read = sqlglot_dialect(dialect)
    try:
        tree = sqlglot.parse_one(str(entry.get("dp-query") or entry.get("query") or ""),
                                 read=read)
        inner = sqlglot.parse_one(str(entry.get("query") or ""), read=read)
    except sqlglot.errors.SqlglotError:
        return "not compared (its query could not be parsed)"
    aggregated = tree.find(exp.Group) is not None or any(
        agg.find_ancestor(exp.Window) is None for agg in tree.find_all(exp.AggFunc))
    if not aggregated:
        return "not compared (not a plain SQL aggregate)"
    missing = sorted({t.name for t in inner.find_all(exp.Table)} & ignored)
    if missing:
        return f"not compared (reads ignored table {missing[0]!r})"
    return None


def run_report(engine: Engine, schema: str | None, model: OrmModel, src_stats: dict[str, Any],
               out_dir: Path, thresholds: dict[str, float], ignored: Iterable[str] = (),
               scale: float = 1.0, verbatim: Iterable[str] = (),
               facts: dict[str, Any] | None = None) -> tuple[FidelityReport, list[str]]:
    """Build the report, write ``report.html`` and ``report.md`` into ``out_dir`` (each
    atomically) and return it with the thresholds it misses. ``facts`` are the header's
    run facts (bundle, keys, destination, scale, seed, times; see ``report_view``)."""
    from synthgate_builder.report_view import render_html, render_markdown, report_view

    report = build_report(engine, schema, model, src_stats, ignored, scale, verbatim)
    problems = failures(report, thresholds)
    view = report_view(report, model, thresholds, problems, facts or {})
    write_text_atomic(out_dir / "report.md", render_markdown(view))
    write_text_atomic(out_dir / "report.html", render_html(view))
    return report, problems
