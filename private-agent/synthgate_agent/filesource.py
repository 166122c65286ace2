"""A folder of CSV or Parquet files as a source: one DuckDB table per file, keys guessed.

The files are loaded into a temporary DuckDB file (removed at the end) with the column types
DuckDB infers; primary keys and foreign keys are proposed from the column names (``id`` or
``<table>_id`` for a primary key, ``<other table>_id`` for a foreign key) and kept only when
the data agrees (a key unique and never NULL, every reference found in its parent). Each
guess is a line for the user to confirm in ``orm.yaml``. The tables are created with the
guessed keys declared, so the rest of the agent reads the temporary file like any DuckDB
source: read only, through ``duckdb:///<temporary file>``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.types import NullType
from synthgate_shared.errors import SynthgateError

from synthgate_agent.duckdb_catalog import duckdb_type

# the file endings of each kind; compressed CSV is read by DuckDB as it is
SUFFIXES = {"csv": (".csv", ".csv.gz", ".csv.zst", ".tsv"), "parquet": (".parquet", ".pq")}
_READERS = {"csv": "read_csv", "parquet": "read_parquet"}
# pandas writes nanosecond timestamps; DuckDB's date functions take microsecond ones
_MICROSECONDS = {"TIMESTAMP_NS": "TIMESTAMP", "TIMESTAMP_MS": "TIMESTAMP",
                 "TIMESTAMP_S": "TIMESTAMP", "TIMESTAMPTZ_NS": "TIMESTAMPTZ",
                 "TIMESTAMPTZ_MS": "TIMESTAMPTZ", "TIMESTAMPTZ_S": "TIMESTAMPTZ"}
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass
class _Guess:
    """The keys proposed for one table."""

    primary_key: str | None = None
    foreign_keys: dict[str, str] = field(default_factory=dict)  # column -> parent table
    # a table with no key of its own whose references together are unique (film_actor)
    composite_key: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FilesSource:
    """The temporary DuckDB file holding the files' tables, and one line per key guess."""

    dsn: str
    guesses: list[str]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _staged(table: str) -> str:
    """The staging table a file was read into."""
    return f"stage.{_quote(table)}"


def table_files(folder: Path, kind: str) -> dict[str, Path]:
    """Table name -> file for every file of ``folder`` (hidden files are skipped).

    Refuses a file of another kind, a name that is not a plain identifier, and two files
    that would make the same table (``a.csv`` and ``A.csv.gz``)."""
    if not folder.is_dir():
        raise SynthgateError(f"{folder} is not a folder", fix=f"give the folder of the .{kind} "
                             "files")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        suffix = next((s for s in SUFFIXES[kind] if path.name.lower().endswith(s)), None)
        if suffix is None or not path.is_file():
            raise SynthgateError(f"{path.name} is not a {kind.upper()} file",
                                 where=str(folder),
                                 fix=f"keep only {', '.join(SUFFIXES[kind])} files there")
        name = path.name[:-len(suffix)]
        if not _TABLE_NAME.match(name):
            raise SynthgateError(f"{path.name}: {name!r} cannot be a table name",
                                 where=str(folder), fix="rename the file: letters, digits "
                                 "and _ only, not starting with a digit")
        same = next((other for key, other in found.items() if key.lower() == name.lower()),
                    None)
        if same is not None:
            raise SynthgateError(f"{same.name} and {path.name} are both table {name!r}",
                                 where=str(folder), fix="keep one file per table")
        found[name] = path
    if not found:
        raise SynthgateError(f"no {kind.upper()} files in {folder}",
                             fix=f"give the folder that holds the .{kind} files")
    return found


def _columns(conn: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in conn.execute(f"DESCRIBE {view}").fetchall()]


def _check_types(conn: duckdb.DuckDBPyConnection, table: str, path: Path, kind: str,
                 lines: list[str]) -> None:
    """Every column has a type synthgate knows. A CSV column with no value at all is read
    as text, and ``lines`` says so (its type is a guess)."""
    columns = _columns(conn, _staged(table))
    counts = conn.execute("SELECT " + ", ".join(f"count({_quote(c)})" for c, _ in columns)
                          + f" FROM {_staged(table)}").fetchone() or ()
    for (column, data_type), count in zip(columns, counts, strict=True):
        if isinstance(duckdb_type(data_type), NullType):
            why = "no value has a type" if data_type == '"NULL"' else f"type {data_type}"
            raise SynthgateError(
                f"the type of column {table}.{column} cannot be inferred ({why})",
                where=str(path), fix="give the column a type (in Parquet) or values, or "
                "drop it from the file")
        if kind == "csv" and count == 0:
            lines.append(f"guessed type varchar for {table}.{column}: every value is empty")


def _key_candidates(table: str) -> list[str]:
    """Column names that would make the primary key of ``table``."""
    singular = table[:-1] if table.lower().endswith("s") else table
    return ["id", f"{table}_id"] + ([f"{singular}_id"] if singular != table else [])


def _unique_not_null(conn: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    row = conn.execute(f"SELECT count(*) = count(DISTINCT {_quote(column)}) AND "
                       f"count({_quote(column)}) = count(*) FROM {_staged(table)}").fetchone()
    return bool(row and row[0])


def _guess_keys(conn: duckdb.DuckDBPyConnection, tables: list[str],
                lines: list[str]) -> dict[str, _Guess]:
    """Primary and foreign keys from names, kept when the data agrees (``lines`` says so)."""
    guesses = {t: _Guess() for t in tables}
    types = {t: dict(_columns(conn, _staged(t))) for t in tables}
    columns = {t: list(types[t]) for t in tables}
    for table in tables:
        lowered = {c.lower(): c for c in columns[table]}
        for candidate in _key_candidates(table):
            column = lowered.get(candidate.lower())
            if column is None:
                continue
            if _unique_not_null(conn, table, column):
                guesses[table].primary_key = column
                lines.append(f"guessed primary key {table}.{column} (named like a key, unique "
                             "and never empty in the data): confirm it")
                break
            lines.append(f"not guessed: {table}.{column} is named like a primary key but "
                         "repeats a value or is empty in the data")
    for table in tables:
        for column in columns[table]:
            parent = _parent_of(column, table, tables, guesses)
            if parent is None:
                continue
            parent_key = guesses[parent].primary_key
            assert parent_key is not None
            if types[table][column] != types[parent][parent_key]:
                lines.append(f"not guessed: {table}.{column} is named like a reference to "
                             f"{parent}.{parent_key}, but its type differs")
                continue
            missing = conn.execute(
                f"SELECT count(*) FROM {_staged(table)} c WHERE c.{_quote(column)} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {_staged(parent)} p "
                f"WHERE p.{_quote(parent_key)} = c.{_quote(column)})").fetchone()
            if missing and missing[0]:
                lines.append(f"not guessed: {table}.{column} is named like a reference to "
                             f"{parent}.{parent_key}, but {missing[0]} value(s) are not there")
                continue
            guesses[table].foreign_keys[column] = parent
            lines.append(f"guessed foreign key {table}.{column} -> {parent}.{parent_key} "
                         "(named after it, every value found there): confirm it")
    for table in tables:
        _guess_composite_key(conn, table, guesses[table], lines)
    return guesses


def _guess_composite_key(conn: duckdb.DuckDBPyConnection, table: str, guess: _Guess,
                         lines: list[str]) -> None:
    """A table without a key of its own, with two or more references that are together
    unique and never empty, gets them as its primary key (a link table)."""
    references = list(guess.foreign_keys)
    if guess.primary_key or len(references) < 2:
        return
    cols = ", ".join(_quote(c) for c in references)
    filled = " AND ".join(f"{_quote(c)} IS NOT NULL" for c in references)
    row = conn.execute(f"SELECT count(*) = count(DISTINCT ({cols})) AND count(*) = "
                       f"count(*) FILTER (WHERE {filled}) FROM {_staged(table)}").fetchone()
    if row and row[0]:
        guess.composite_key = references
        lines.append(f"guessed primary key {table}({', '.join(references)}) (its references, "
                     "together unique in the data): confirm it")


def _parent_of(column: str, table: str, tables: list[str],
               guesses: dict[str, _Guess]) -> str | None:
    """The other table whose guessed key ``column`` names (``film_id`` -> ``film``)."""
    if not column.lower().endswith("_id") or column == guesses[table].primary_key:
        return None
    stem = column[:-3].lower()
    for other in tables:
        if other == table or guesses[other].primary_key is None:
            continue
        names = {other.lower(), other.lower().removesuffix("s")}
        if stem in names or f"{stem}s" in names:
            return other
    return None


def _create_order(guesses: dict[str, _Guess], lines: list[str]) -> list[str]:
    """Tables parents first; a foreign key that would close a cycle is dropped (DuckDB
    cannot declare it)."""
    order: list[str] = []
    left = dict(sorted(guesses.items()))
    while left:
        ready = [t for t, g in left.items()
                 if all(p in order or p == t for p in g.foreign_keys.values())]
        if not ready:  # a cycle: drop one of its keys and go on
            table, guess = next(iter(left.items()))
            column, parent = next((c, p) for c, p in guess.foreign_keys.items()
                                  if p not in order)
            del guess.foreign_keys[column]
            lines.append(f"not guessed: {table}.{column} -> {parent} would close a cycle of "
                         "foreign keys")
            continue
        for table in ready:
            order.append(table)
            del left[table]
    return order


def _create_table(conn: duckdb.DuckDBPyConnection, name: str, guess: _Guess,
                  guesses: dict[str, _Guess]) -> None:
    """The table ``name`` with its guessed keys declared, filled from its staging view."""
    parts = [f"{_quote(c)} {_MICROSECONDS.get(t, t)}" for c, t in _columns(conn, _staged(name))]
    key = [guess.primary_key] if guess.primary_key else guess.composite_key
    if key:
        parts.append(f"PRIMARY KEY ({', '.join(_quote(c) for c in key)})")
    for column, parent in guess.foreign_keys.items():
        parent_key = guesses[parent].primary_key
        assert parent_key is not None
        parts.append(f"FOREIGN KEY ({_quote(column)}) REFERENCES {_quote(parent)} "
                     f"({_quote(parent_key)})")
    conn.execute(f"CREATE TABLE {_quote(name)} ({', '.join(parts)})")
    conn.execute(f"INSERT INTO {_quote(name)} SELECT * FROM {_staged(name)}")


def _load(conn: duckdb.DuckDBPyConnection, files: dict[str, Path], kind: str,
          lines: list[str]) -> None:
    """Each file as a table of the schema ``stage`` (read once, types inferred)."""
    conn.execute("CREATE SCHEMA stage")
    for name, path in files.items():
        try:
            conn.execute(f"CREATE TABLE {_staged(name)} AS SELECT * FROM {_READERS[kind]}($1)",
                         [str(path)])
        except duckdb.Error as exc:
            detail = (str(exc).strip().splitlines() or ["unreadable"])[0]
            raise SynthgateError(f"{path.name} cannot be read as {kind.upper()} ({detail})",
                                 where=str(path), fix=f"give a valid {kind.upper()} file"
                                 ) from None
        _check_types(conn, name, path, kind, lines)


@contextlib.contextmanager
def files_source(folder: Path, kind: str) -> Iterator[FilesSource]:
    """The files of ``folder`` (``kind``: ``csv`` or ``parquet``) as a temporary DuckDB file
    with guessed keys, for the duration of the block; the file is removed afterwards."""
    files = table_files(Path(folder), kind)
    work = Path(tempfile.mkdtemp(prefix="synthgate-files-"))
    try:
        path = work / "files.duckdb"
        lines: list[str] = []
        conn = duckdb.connect(str(path))
        try:
            _load(conn, files, kind, lines)
            guesses = _guess_keys(conn, list(files), lines)
            for name in _create_order(guesses, lines):
                _create_table(conn, name, guesses[name], guesses)
            conn.execute("DROP SCHEMA stage CASCADE")
        finally:
            conn.close()
        yield FilesSource(dsn=f"duckdb:///{path}", guesses=lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def source_dsn_for(dsn: str, csv_dir: Path | None, parquet_dir: Path | None
                   ) -> contextlib.AbstractContextManager[Any]:
    """The DSN a command reads: ``dsn`` itself, or the temporary DuckDB file of a folder of
    CSV or Parquet files (a ``FilesSource``) while the block runs."""
    if csv_dir is not None and parquet_dir is not None:
        raise SynthgateError("give --csv-dir or --parquet-dir, not both")
    if csv_dir is None and parquet_dir is None:
        return contextlib.nullcontext(FilesSource(dsn=dsn, guesses=[]))
    if csv_dir is not None:
        return files_source(csv_dir, "csv")
    assert parquet_dir is not None
    return files_source(parquet_dir, "parquet")


def guess_comments(guesses: list[str]) -> str:
    """The key guesses as comment lines at the top of ``orm.yaml`` (empty without any)."""
    if not guesses:
        return ""
    return "".join(f"# warning: {line}\n" for line in
                   ["keys below were guessed from a folder of files, not read from a "
                    "database", *guesses])
