"""An independent fidelity evaluation: a source and a synthetic database compared directly.

Nothing here reads synthgate's statistics or its report: both databases are reflected with
SQLAlchemy, read whole into pandas (the test databases are small) and compared column by
column, key by key. Used by tests/test_fidelity_any_db.py and bench/fidelity_any_db.py.

Measures (one row per measure in the tidy table, ``value`` is the distance, 0 is perfect):

``rows``        per table: |synthetic - source| / source row count.
``null``        per column: |synthetic - source| share of NULLs.
``tvd``         per column with <= 50 distinct non-NULL source values (any type; key and
                foreign-key columns excluded) whose values repeat (at most half as many distinct
                values as non-NULL rows): total variation distance of the non-NULL values.
``tvd_sparse``  the same for the other columns with <= 50 distinct values: those of tiny tables
                whose values are (nearly) one per row, such as the names of 8 employees. A copy
                that respects min-count cannot match them, so the thresholds leave them out.
``ks``          per numeric or date/time column (dates as epoch seconds), and per text column
                whose every source value is a number (numbers stored as text); keys excluded:
                two-sample Kolmogorov-Smirnov statistic. A synthetic text value that is not a
                number counts as +infinity.
``children``    per foreign key: TVD of the number of child rows per parent row, over every
                parent row (those with no child count as 0).
``children_ks`` the KS statistic of the same counts: informative where few parents have many
                children each (every count is then unique and the TVD is 1 unless exact).
``date_order``  per pair of date/time columns of one table (``a<=b``), and per (child date,
                parent date) pair across each foreign key (``fk:child_col>=parent.col``):
                |synthetic - source| share of rows, where both are set, with the second >= the
                first.
``fk_invalid``  per foreign key: share of non-NULL synthetic child keys with no parent.

The flow runner (:func:`run_flow`) runs the zero-config chain through the two CLIs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats as sps

CATEGORICAL_MAX = 50
NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
KINDS = ("rows", "null", "tvd", "tvd_sparse", "ks", "children", "children_ks", "date_order",
         "fk_invalid")
COLUMNS = ["kind", "table", "subject", "source", "synthetic", "value"]


# --- reading ----------------------------------------------------------------------------------

@dataclass
class Frame:
    """One table's rows, column by column, as plain Python values."""

    n: int
    columns: dict[str, list[Any]]
    _epochs: dict[str, list[float | None]] = field(default_factory=dict)

    def column(self, name: str) -> list[Any]:
        """The column's values (all NULL when the table lacks it)."""
        return self.columns.get(name, [None] * self.n)

    def epochs(self, name: str) -> list[float | None]:
        """The column as numbers (:func:`_epoch`), NULLs kept as None; computed once."""
        if name not in self._epochs:
            self._epochs[name] = [None if _is_null(v) else _epoch(v) for v in self.column(name)]
        return self._epochs[name]

    def keys(self, names: Sequence[str]) -> list[tuple[Any, ...]]:
        """Each row's values of ``names``, as tuples."""
        return list(zip(*(self.column(n) for n in names), strict=True)) if self.n else []


EMPTY = Frame(0, {})


@dataclass
class Database:
    """A database read whole: its reflected tables and their rows."""

    tables: dict[str, sa.Table]
    frames: dict[str, Frame]


def _plain(value: Any) -> Any:
    """A hashable stand-in for values drivers return unhashable (arrays, bytes views)."""
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return repr(sorted(value.items()))
    return value


def _partitions(engine: sa.Engine, schema: str | None) -> set[str]:
    """PostgreSQL partitions (their rows are read through the partitioned table)."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(conn.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relispartition AND n.nspname = coalesce(:s, current_schema())"),
            {"s": schema}).scalars())


def read_database(url: str, schema: str | None = None,
                  only: Iterable[str] | None = None) -> Database:
    """Reflect ``url`` (tables in ``schema``, or only those named) and read every row."""
    engine = sa.create_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names(schema)) - _partitions(engine, schema)
        meta = sa.MetaData()
        meta.reflect(engine, schema=schema,
                     only=sorted(names if only is None else names & set(only)))
        frames: dict[str, Frame] = {}
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                result = conn.execute(sa.select(table))
                rows = result.fetchall()
                frames[table.name] = Frame(len(rows), {
                    name: [_plain(row[i]) for row in rows]
                    for i, name in enumerate(result.keys())})
        return Database({t.name: t for t in meta.sorted_tables}, frames)
    finally:
        engine.dispose()


# --- distances --------------------------------------------------------------------------------

def tvd(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Total variation distance between the empirical distributions of ``a`` and ``b``
    (1.0 when exactly one of them is empty, 0.0 when both are)."""
    if not len(a) or not len(b):
        return 0.0 if len(a) == len(b) else 1.0
    ca, cb = Counter(a), Counter(b)
    na, nb = len(a), len(b)
    return 0.5 * sum(abs(ca[k] / na - cb[k] / nb) for k in ca.keys() | cb.keys())


def ks(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (1.0 when exactly one sample is empty)."""
    if not len(a) or not len(b):
        return 0.0 if len(a) == len(b) else 1.0
    return float(sps.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float)).statistic)


def _epoch(value: Any) -> float:
    """Seconds since 1970 for dates and times (aware ones in UTC), else the number itself."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return (value - dt.datetime(1970, 1, 1)).total_seconds()
    if isinstance(value, dt.date):
        return float((value - dt.date(1970, 1, 1)).days * 86400)
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        return float(value) if NUMBER.match(value) else float("inf")
    return float(value)


def _is_number_type(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.Integer | sa.Numeric | sa.Float | sa.Interval) and \
        not isinstance(column.type, sa.Boolean)


def _is_date_type(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.Date | sa.DateTime)


def _is_time_type(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.Time)


def _key_columns(table: sa.Table) -> set[str]:
    keys = {c.name for c in table.primary_key.columns}
    for fk in table.foreign_key_constraints:
        keys |= {c.name for c in fk.columns}
    return keys


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _non_null(frame: Frame, column: str) -> list[Any]:
    return [v for v in frame.column(column) if not _is_null(v)]


def _null_share(frame: Frame, column: str) -> float:
    return sum(_is_null(v) for v in frame.column(column)) / frame.n if frame.n else 0.0


def _order_share(first: Sequence[float | None], second: Sequence[float | None]) -> float | None:
    """Share of pairs, both set, where ``second >= first`` (None when there are none)."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True)
             if a is not None and b is not None]
    if not pairs:
        return None
    return sum(b >= a for a, b in pairs) / len(pairs)


@dataclass
class _Rows:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, table: str, subject: str, source: float | None,
            synthetic: float | None, value: float) -> None:
        self.rows.append({"kind": kind, "table": table, "subject": subject, "source": source,
                          "synthetic": synthetic, "value": float(value)})


def _column_measures(out: _Rows, table: sa.Table, src: Frame, syn: Frame) -> None:
    keys = _key_columns(table)
    for column in table.columns:
        name = column.name
        s_null, y_null = _null_share(src, name), _null_share(syn, name)
        out.add("null", table.name, name, s_null, y_null, abs(s_null - y_null))
        if name in keys:
            continue
        s_vals, y_vals = _non_null(src, name), _non_null(syn, name)
        distinct = len(set(s_vals))
        if s_vals and distinct <= CATEGORICAL_MAX:
            kind = "tvd" if 2 * distinct <= len(s_vals) else "tvd_sparse"
            out.add(kind, table.name, name, distinct, len(set(y_vals)), tvd(s_vals, y_vals))
        numbers_as_text = bool(s_vals) and all(isinstance(v, str) and NUMBER.match(v)
                                               for v in s_vals)
        if _is_number_type(column) or _is_date_type(column) or _is_time_type(column) \
                or numbers_as_text:
            out.add("ks", table.name, name, len(s_vals), len(y_vals),
                    ks([v for v in src.epochs(name) if v is not None],
                       [v for v in syn.epochs(name) if v is not None]))


def _date_pairs(out: _Rows, table: sa.Table, src: Frame, syn: Frame) -> None:
    dates = [c.name for c in table.columns if _is_date_type(c)]
    for i, a in enumerate(dates):
        for b in dates[i + 1:]:
            s = _order_share(src.epochs(a), src.epochs(b))
            if s is None:
                continue
            y = _order_share(syn.epochs(a), syn.epochs(b))
            out.add("date_order", table.name, f"{a}<={b}", s, y, abs(s - (y or 0.0)))


def _fk_name(fk: sa.ForeignKeyConstraint) -> str:
    return f"{','.join(c.name for c in fk.columns)}->{fk.referred_table.name}"


def _children_counts(child: Frame, parent: Frame, child_cols: Sequence[str],
                     parent_cols: Sequence[str]) -> list[int]:
    """Child rows per parent row, for every parent row (0 for those with none)."""
    counts = Counter(k for k in child.keys(child_cols) if not any(map(_is_null, k)))
    return [counts.get(key, 0) for key in parent.keys(parent_cols)]


def _joined_dates(child: Frame, parent: Frame, child_cols: Sequence[str],
                  parent_cols: Sequence[str], child_date: str,
                  parent_date: str) -> tuple[list[float | None], list[float | None]]:
    """(parent date, child date) of every child row whose parent exists, as epochs."""
    dates = dict(zip(parent.keys(parent_cols), parent.epochs(parent_date), strict=True))
    pairs = [(dates[key], value) for key, value in
             zip(child.keys(child_cols), child.epochs(child_date), strict=True) if key in dates]
    return [p for p, _ in pairs], [c for _, c in pairs]


def _fk_measures(out: _Rows, table: sa.Table, source: Database, synthetic: Database) -> None:
    for fk in sorted(table.foreign_key_constraints, key=_fk_name):
        parent = fk.referred_table
        if parent.name not in source.frames:
            continue
        child_cols = [c.name for c in fk.columns]
        parent_cols = [e.column.name for e in fk.elements]
        name = _fk_name(fk)
        frames = [(db.frames.get(table.name, EMPTY), db.frames.get(parent.name, EMPTY))
                  for db in (source, synthetic)]
        (s_child, s_parent), (y_child, y_parent) = frames
        s_counts = _children_counts(s_child, s_parent, child_cols, parent_cols)
        y_counts = _children_counts(y_child, y_parent, child_cols, parent_cols)
        s_mean = float(np.mean(s_counts)) if s_counts else None
        y_mean = float(np.mean(y_counts)) if y_counts else None
        out.add("children", table.name, name, s_mean, y_mean, tvd(s_counts, y_counts))
        out.add("children_ks", table.name, name, s_mean, y_mean, ks(s_counts, y_counts))
        y_keys = [k for k in y_child.keys(child_cols) if not any(map(_is_null, k))]
        parents = set(y_parent.keys(parent_cols))
        invalid = sum(k not in parents for k in y_keys) / len(y_keys) if y_keys else 0.0
        out.add("fk_invalid", table.name, name, 0.0, invalid, invalid)
        child_dates = [c.name for c in table.columns if _is_date_type(c)]
        parent_dates = [c.name for c in parent.columns if _is_date_type(c)]
        if not child_dates or not parent_dates:
            continue
        for c in child_dates:
            for p in parent_dates:
                s = _order_share(*_joined_dates(s_child, s_parent, child_cols, parent_cols, c, p))
                if s is None:
                    continue
                y = _order_share(*_joined_dates(y_child, y_parent, child_cols, parent_cols, c, p))
                out.add("date_order", table.name, f"{name}:{c}>={parent.name}.{p}", s, y,
                        abs(s - (y or 0.0)))


def compare(source: Database, synthetic: Database) -> pd.DataFrame:
    """The tidy table (columns ``kind, table, subject, source, synthetic, value``) of every
    measure over the source's tables; a table missing from the synthetic side counts as empty."""
    out = _Rows()
    for name, table in source.tables.items():
        src = source.frames[name]
        syn = synthetic.frames.get(name, EMPTY)
        out.add("rows", name, "", src.n, syn.n, abs(syn.n - src.n) / max(src.n, 1))
        _column_measures(out, table, src, syn)
        _date_pairs(out, table, src, syn)
        _fk_measures(out, table, source, synthetic)
    return pd.DataFrame(out.rows, columns=COLUMNS)


def evaluate(source_url: str, synthetic_url: str, schema: str | None = None) -> pd.DataFrame:
    """Read both databases and :func:`compare` them (the synthetic side: the source's tables)."""
    source = read_database(source_url, schema)
    synthetic = read_database(synthetic_url, None, only=source.tables)
    return compare(source, synthetic)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per kind: how many measures, their median and worst value, and where the worst is."""
    rows = []
    for kind in KINDS:
        part = table[table["kind"] == kind]
        if not len(part):
            continue
        worst = part.loc[part["value"].idxmax()]
        rows.append({"kind": kind, "n": len(part), "median": float(part["value"].median()),
                     "worst": float(worst["value"]),
                     "worst_at": f"{worst['table']}.{worst['subject']}".rstrip(".")})
    return pd.DataFrame(rows, columns=["kind", "n", "median", "worst", "worst_at"])


@dataclass(frozen=True)
class Check:
    """One acceptance threshold of issue 11: ``how`` (median or worst) of a kind <= limit."""

    name: str
    kind: str
    how: str
    limit: float


CHECKS = (Check("tvd_median", "tvd", "median", 0.05), Check("tvd_worst", "tvd", "worst", 0.2),
          Check("ks_median", "ks", "median", 0.05), Check("null_share", "null", "worst", 0.02),
          Check("rows_exact", "rows", "worst", 0.0), Check("children", "children", "worst", 0.05),
          Check("date_order", "date_order", "worst", 0.02),
          Check("fk_valid", "fk_invalid", "worst", 0.0))


def check(table: pd.DataFrame, which: Check) -> str | None:
    """None when ``table`` meets the threshold (or has no such measure), else one line with
    the figure and the worst measure."""
    part = table[table["kind"] == which.kind]
    if not len(part):
        return None
    figure = float(part["value"].median() if which.how == "median" else part["value"].max())
    if figure <= which.limit + 1e-12:
        return None
    worst = part.loc[part["value"].idxmax()]
    return (f"{which.how} {which.kind} {figure:.3f} > {which.limit} (worst "
            f"{worst['table']}.{worst['subject']} = {worst['value']:.3f})")


def failures(table: pd.DataFrame) -> list[str]:
    """Every issue-11 threshold this table misses, one line each (empty: all met)."""
    return [line for c in CHECKS if (line := check(table, c)) is not None]


# --- the zero-config flow ---------------------------------------------------------------------

class FlowFailed(RuntimeError):
    """A command of the flow exited non-zero; the message names it and holds its stderr."""


@dataclass
class Flow:
    """What :func:`run_flow` made: its folder, the destination and the timed commands."""

    work: Path
    source: str
    destination: str
    seconds: dict[str, float]


def _cli(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run_command(args: Sequence[str], cwd: Path) -> float:
    """Run one synthgate CLI command in ``cwd`` (privileged source roles allowed); its wall
    seconds. Raises FlowFailed with the command and its stderr when it fails."""
    env = {**os.environ, "SYNTHGATE_ALLOW_PRIVILEGED_ROLE": "1"}
    started = time.perf_counter()
    done = subprocess.run([_cli(args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        shown = " ".join("<dsn>" if "://" in a else a for a in args)
        raise FlowFailed(f"{shown}: exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    return seconds


FILES = ["--config-file", "config.yaml", "--orm-file", "orm.yaml", "--stats-file",
         "src-stats.yaml"]


def create_data(work: Path, destination: str, seed: int, scale: float = 1.0) -> float:
    """create-data into ``destination`` with the flow's files in ``work``; its seconds."""
    return run_command(["synthgate-builder", "create-data", "--dsn", destination, "--scale",
                        str(scale), "--seed", str(seed), "--ssg-file", "ssg.py", *FILES], work)


def _has_vocabulary(work: Path) -> bool:
    return re.search(r"^\s*vocabulary_table:\s*true\b", (work / "config.yaml").read_text(),
                     re.M) is not None


def _create_tables(work: Path, destination: str) -> dict[str, float]:
    """create-tables, then create-vocab when the config names vocabulary tables."""
    builder = "synthgate-builder"
    seconds = {"create-tables": run_command([builder, "create-tables", "--dsn", destination,
                                             "--orm-file", "orm.yaml"], work)}
    if _has_vocabulary(work):
        seconds["create-vocab"] = run_command([builder, "create-vocab", "--dsn", destination,
                                               *FILES], work)
    return seconds


def reset_destination(work: Path, destination: str) -> None:
    """Drop the flow's tables from ``destination`` and create them (and the vocabulary) again:
    faster than remove-data, which deletes row by row."""
    run_command(["synthgate-builder", "remove-tables", "--yes", "--dsn", destination,
                 "--orm-file", "orm.yaml"], work)
    _create_tables(work, destination)


def prepare_files(source: str, work: Path,
                  before_generators: Callable[[Path], None] | None = None) -> dict[str, float]:
    """The zero-config chain's files from ``source`` into ``work``: generate-config (no edits)
    -> make-tables -> make-stats -> (``before_generators(work)``) -> create-generators ->
    (make-vocab when the config names vocabulary tables). Returns the seconds of every step."""
    work.mkdir(parents=True, exist_ok=True)
    agent, builder = "synthgate-agent", "synthgate-builder"
    seconds = {
        "generate-config": run_command([agent, "generate-config", "--dsn", source,
                                        "--config-file", "config.yaml"], work),
        "make-tables": run_command([agent, "make-tables", "--dsn", source,
                                    "--orm-file", "orm.yaml"], work),
        "make-stats": run_command([agent, "make-stats", "--dsn", source, "--config-file",
                                   "config.yaml", "--stats-file", "src-stats.yaml"], work),
    }
    if before_generators is not None:
        before_generators(work)
    seconds["create-generators"] = run_command([builder, "create-generators", "--out", "ssg.py",
                                                *FILES], work)
    if _has_vocabulary(work):
        seconds["make-vocab"] = run_command([agent, "make-vocab", "--dsn", source,
                                             "--config-file", "config.yaml", "--orm-file",
                                             "orm.yaml"], work)
    return seconds


def run_flow(source: str, destination: str, work: Path, seed: int = 1,
             scale: float = 1.0) -> Flow:
    """The zero-config chain through the CLIs: :func:`prepare_files`, then create-tables ->
    (create-vocab when the config names vocabulary tables) -> create-data --scale --seed, into
    the empty ``destination``. Returns the seconds of every step."""
    seconds = prepare_files(source, work)
    seconds |= _create_tables(work, destination)
    seconds["create-data"] = create_data(work, destination, seed, scale)
    return Flow(work, source, destination, seconds)


# --- databases for the tests and the bench ----------------------------------------------------

DATA = Path(__file__).resolve().parent / "data"
DATASETS = ("pagila", "chinook", "bank", "shop")


def load_dataset(name: str, admin: str, database: str) -> str:
    """Load ``tests/data/<name>`` into the new PostgreSQL database ``database`` with its
    load.sh (``admin``: a server URL without database); the database's SQLAlchemy URL."""
    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", admin)
    subprocess.run(["bash", str(DATA / name / "load.sh"), f"{plain}/{database}"], check=True,
                   capture_output=True)
    return f"{admin}/{database}"

