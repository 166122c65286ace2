"""make-stats against real PostgreSQL (Pagila), MariaDB and SQLite: results, values, bad input."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from synthgate_agent.source import Source, open_source
from synthgate_agent.stats import (
    find_count_column,
    make_src_stats,
    make_stats_file,
    render_src_stats,
    row_level_warning,
)
from synthgate_shared.config import SrcStat, config_from_data
from synthgate_shared.errors import SynthgateError


def _exec(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


def _scalar(url: str, sql: str) -> Any:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.exec_driver_sql(sql).scalar()
    engine.dispose()
    return value


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names


@pytest.fixture
def small_db(any_db_url: str) -> str:
    """A table ``t`` of 28 rows: group ``gK`` has K rows (K = 1..7), amount = 1.5 * id."""
    groups = [k for k in range(1, 8) for _ in range(k)]
    rows = ", ".join(f"({i}, 'g{k}', {i * 1.5})" for i, k in enumerate(groups))
    _exec(any_db_url, "CREATE TABLE t (id INTEGER PRIMARY KEY, grp VARCHAR(10), amount FLOAT)",
          f"INSERT INTO t VALUES {rows}")
    return any_db_url


@pytest.fixture
def source_of(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open read-only sources by URL; dispose them after the test."""
    opened: list[Source] = []

    def open_(url: str, timeout_s: float = 30.0) -> Source:
        opened.append(open_source(url, timeout_s=timeout_s))
        return opened[-1]

    yield open_
    for source in opened:
        source.engine.dispose()


def _config(*stats: dict[str, Any], **top: Any) -> Any:
    return config_from_data({"src-stats": list(stats), **top})


def _without_times(data: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in entry.items() if k != "ran_at"}
            for name, entry in data.items()}


# --- results and values ---------------------------------------------------------------------

def test_pagila_queries_written_faithfully(pagila_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent("""\
        src-stats:
          - name: customers_per_store
            query: SELECT store_id, COUNT(*) AS n FROM customer GROUP BY store_id ORDER BY 1
          - name: types
            query: >
              SELECT 1.50::numeric AS dec, 0.1::numeric(20,10) AS tenth,
                     DATE '2020-02-29' AS day, TIMESTAMP '2020-01-02 03:04:05.25' AS ts,
                     TIMESTAMPTZ '2020-01-02 03:04:05+00' AS tstz, '\\x00ff10'::bytea AS raw,
                     ARRAY[1, 2, 3] AS arr, ARRAY['a', NULL] AS texts, 'Zoë'::text AS name,
                     NULL::int AS nothing, INTERVAL '1 day 2 hours' AS span
    """))
    out = tmp_path / "src-stats.yaml"
    data = make_stats_file(pagila_url, None, config, out, False, None)
    text = out.read_text()
    assert text.startswith("# src-stats.yaml")
    loaded = yaml.safe_load(text)
    assert loaded == data
    stores = loaded["customers_per_store"]
    assert stores["results"] == [{"store_id": 1, "n": 326}, {"store_id": 2, "n": 273}]
    assert stores["query"].startswith("SELECT store_id")
    assert isinstance(stores["ran_at"], dt.datetime) and stores["ran_at"].tzinfo is not None
    assert (stores["min_count"], stores["count_column"], stores["suppressed_rows"]) == (7, "n", 0)
    assert loaded["types"]["results"] == [{
        "dec": 1.5, "tenth": 0.1, "day": dt.date(2020, 2, 29),
        "ts": dt.datetime(2020, 1, 2, 3, 4, 5, 250000),
        "tstz": dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "raw": b"\x00\xff\x10", "arr": [1, 2, 3], "texts": ["a", None], "name": "Zoë",
        "nothing": None, "span": "P1DT2H0M0S",
    }]
    assert "!!binary" in text and "Zoë" in text


def test_schema_option_resolves_unqualified_names(pg_url: str, tmp_path: Path) -> None:
    _exec(pg_url, "CREATE SCHEMA clinic", "CREATE TABLE clinic.visit (id int)",
          "INSERT INTO clinic.visit VALUES (1), (2), (3)")
    config = tmp_path / "config.yaml"
    config.write_text("src-stats:\n  - name: visits\n    query: SELECT COUNT(*) AS n FROM visit\n"
                      "    min-count: 0\n")
    data = make_stats_file(pg_url, "clinic", config, tmp_path / "out.yaml", False, None)
    assert data["visits"]["results"] == [{"n": 3}]


def test_render_keeps_order_and_header() -> None:
    text = render_src_stats({"b": {"query": "SELECT 1", "results": [{"x": 1}]},
                             "a": {"query": "SELECT 2", "results": []}})
    assert text.index("b:") < text.index("a:")
    assert yaml.safe_load(text)["a"]["results"] == []


# --- bad SQL ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELEC grp FROM t", "syntax"),
    ("SELECT * FROM no_such_table", "no_such_table"),
    ("SELECT no_such_column FROM t", "no_such_column"),
])
def test_bad_sql_names_the_query(small_db: str, source_of: Any, sql: str, fragment: str) -> None:
    source = source_of(small_db)
    config = _config({"name": "ok", "query": "SELECT COUNT(*) AS n FROM t"},
                     {"name": "broken_one", "query": sql})
    with pytest.raises(SynthgateError) as err:
        make_src_stats(source, config)
    assert "broken_one" in str(err.value)
    assert fragment in str(err.value).lower()


@pytest.mark.parametrize("sql", [
    "INSERT INTO t VALUES (100, 'x', 1.0)",
    "UPDATE t SET amount = 0",
    "DROP TABLE t",
    "CREATE TABLE copied AS SELECT * FROM t",
])
def test_writes_refused_and_source_unchanged(small_db: str, source_of: Any, sql: str) -> None:
    source = source_of(small_db)
    with pytest.raises(SynthgateError) as err:
        make_src_stats(source, _config({"name": "sneaky", "query": sql}))
    message = str(err.value)
    assert "sneaky" in message and "read only" in message
    assert _tables(small_db) == {"t"}
    assert _scalar(small_db, "SELECT COUNT(*) FROM t") == 28
    assert _scalar(small_db, "SELECT SUM(amount) FROM t") == pytest.approx(567.0)


def test_multi_statement_cannot_escape_read_only(pg_url: str, source_of: Any) -> None:
    # psycopg2 runs the three statements; the DROP would run after COMMIT, outside the
    # read-only transaction, if make-stats let it through
    _exec(pg_url, "CREATE TABLE t (a int)")
    source = source_of(pg_url)
    sql = "SET default_transaction_read_only = off; COMMIT; DROP TABLE t"
    with pytest.raises(SynthgateError, match="more than one SQL statement"):
        make_src_stats(source, _config({"name": "escape", "query": sql}))
    assert _tables(pg_url) == {"t"}


def test_postgresql_sessions_sort_in_memory_without_jit(pg_url: str, source_of: Any) -> None:
    from synthgate_agent.source import WORK_MEM

    data = make_src_stats(source_of(pg_url), _config(
        {"name": "mem", "query": "SELECT current_setting('work_mem') AS work_mem, "
                                 "current_setting('jit') AS jit, "
                                 "current_setting('transaction_read_only') AS ro"}))
    assert data["mem"]["results"] == [{"work_mem": WORK_MEM, "jit": "off", "ro": "on"}]


def test_session_changes_do_not_reach_the_next_query(maria_url: str, source_of: Any) -> None:
    _exec(maria_url, "CREATE TABLE t (a int)")
    source = source_of(maria_url)
    with pytest.raises(SynthgateError, match="this is SET, not a SELECT"):
        make_src_stats(source, _config({"name": "flip", "query":
                                        "SET SESSION TRANSACTION READ WRITE"}))
    with pytest.raises(SynthgateError, match="read only"):
        make_src_stats(source, _config({"name": "drop", "query": "DROP TABLE t"}))
    assert _tables(maria_url) == {"t"}


def test_select_into_refused(maria_url: str, source_of: Any, tmp_path: Path) -> None:
    _exec(maria_url, "CREATE TABLE t (a int)")
    target = tmp_path / "leak.txt"
    with pytest.raises(SynthgateError, match="INTO"):
        make_src_stats(source_of(maria_url), _config(
            {"name": "outfile", "query": f"SELECT a FROM t INTO OUTFILE '{target}'"}))
    assert not target.exists()


# a billion rows on every dialect (sleep functions are refused before they reach the source;
# MariaDB stops a recursive CTE after 1,000 iterations)
_SLOW = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 1000) "
         "SELECT COUNT(*) FROM r a, r b, r c")


def test_timeout_names_query_and_setting(any_db_url: str, source_of: Any) -> None:
    _exec(any_db_url, "CREATE TABLE t (a int)")
    source = source_of(any_db_url, timeout_s=1)
    sql = _SLOW
    with pytest.raises(SynthgateError) as err:
        make_src_stats(source, _config({"name": "slowpoke", "query": sql}))
    message = str(err.value)
    assert "slowpoke" in message and "statement timeout of 1 s" in message
    assert "statement-timeout" in message and "--timeout" in message


# --- config and output file -------------------------------------------------------------------

def test_config_not_yaml(sqlite_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("src-stats:\n  - name: a\n    query: [unclosed\n")
    with pytest.raises(SynthgateError, match=r"config.yaml:\d+:\d+.*not valid YAML"):
        make_stats_file(sqlite_url, None, config, tmp_path / "out.yaml", False, None)
    assert not (tmp_path / "out.yaml").exists()


def test_unknown_key_suggests_nearest(sqlite_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("src-stats:\n  - name: a\n    query: SELECT 1\n    min-cuont: 3\n")
    with pytest.raises(SynthgateError,
                       match=r"unknown key 'min-cuont'.*did you mean 'min-count'"):
        make_stats_file(sqlite_url, None, config, tmp_path / "out.yaml", False, None)


def test_existing_output_needs_force_and_failures_leave_no_file(small_db: str,
                                                                tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("src-stats:\n  - name: a\n    query: SELECT COUNT(*) AS n FROM t\n")
    out = tmp_path / "src-stats.yaml"
    out.write_text("old\n")
    with pytest.raises(SynthgateError, match="--force"):
        make_stats_file(small_db, None, config, out, False, None)
    make_stats_file(small_db, None, config, out, True, None)
    assert yaml.safe_load(out.read_text())["a"]["results"] == [{"n": 28}]
    config.write_text("src-stats:\n  - name: a\n    query: SELECT nope FROM t\n")
    fresh = tmp_path / "fresh.yaml"
    with pytest.raises(SynthgateError, match="'a'"):
        make_stats_file(small_db, None, config, fresh, False, None)
    assert [p.name for p in tmp_path.iterdir() if p.suffix in (".yaml", ".tmp")
            and p.name != "config.yaml"] == ["src-stats.yaml"]


def test_cli_prints_one_line_per_query(small_db: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from synthgate_agent.cli import app
    from synthgate_shared.cli import run_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRC_DSN", small_db)
    Path("config.yaml").write_text(textwrap.dedent("""\
        src-stats:
          - name: by_group
            query: SELECT grp, COUNT(*) AS n FROM t GROUP BY grp
          - name: all_rows
            query: SELECT id FROM t
        min-count: 4
    """))
    assert run_app(app, "synthgate-agent", ["make-stats"]) == 0
    out = capsys.readouterr()
    assert "by_group: 4 rows, 3 suppressed" in out.out
    assert "all_rows: 28 rows" in out.out and "wrote src-stats.yaml" in out.out
    assert run_app(app, "synthgate-agent", ["make-stats"]) == 1
    assert "--force" in capsys.readouterr().err
    assert run_app(app, "synthgate-agent", ["make-stats", "--force", "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err


# --- small-count suppression and row-level warnings ------------------------------------------

def test_suppression_removes_exactly_the_small_groups(small_db: str, source_of: Any) -> None:
    engine = sa.create_engine(small_db)
    with engine.connect() as conn:
        truth: dict[str, int] = {g: int(c) for g, c in conn.exec_driver_sql(
            "SELECT grp, COUNT(*) FROM t GROUP BY grp").all()}
    engine.dispose()
    source = source_of(small_db)
    config = _config(
        {"name": "default", "query": "SELECT grp, COUNT(*) AS n FROM t GROUP BY grp"},
        {"name": "override", "min-count": 4,
         "query": "SELECT grp, COUNT(*) AS Group_Count FROM t GROUP BY grp"},
        {"name": "named", "count-column": "howmany", "min-count": 3,
         "query": "SELECT grp, COUNT(*) AS howmany FROM t GROUP BY grp"},
        {"name": "no_count", "query": "SELECT grp, MIN(id) AS first_id FROM t GROUP BY grp"},
    )
    data = make_src_stats(source, config)
    cases: list[tuple[str, str | None, int]] = [("default", "n", 7), ("override", None, 4),
                                                ("named", "howmany", 3)]
    for name, column, threshold in cases:
        entry = data[name]
        column = column or entry["count_column"]
        kept = {r["grp"]: r[column] for r in entry["results"]}
        assert kept == {g: c for g, c in truth.items() if c >= threshold}
        assert entry["suppressed_rows"] == sum(1 for c in truth.values() if c < threshold)
        assert entry["min_count"] == threshold and entry["count_column"] == column
    assert data["override"]["count_column"].lower() == "group_count"
    assert "suppressed_rows" not in data["no_count"]
    assert len(data["no_count"]["results"]) == len(truth)


def test_named_count_column_must_exist(small_db: str, source_of: Any) -> None:
    config = _config({"name": "q", "count-column": "total",
                      "query": "SELECT grp, COUNT(*) AS n FROM t GROUP BY grp"})
    with pytest.raises(SynthgateError, match=r"'q'.*count-column 'total'"):
        make_src_stats(source_of(small_db), config)


@pytest.mark.parametrize(("columns", "expected"), [
    (["grp", "count"], "count"), (["N", "x"], "N"), (["visit_count"], "visit_count"),
    (["COUNT_visits"], "COUNT_visits"), (["grp", "amount"], None), (["counter"], None),
])
def test_count_column_detection(columns: list[str], expected: str | None) -> None:
    rows = [dict.fromkeys(columns, 3)]
    stat = SrcStat(name="q", query="SELECT 1")
    assert find_count_column(stat, columns, rows) == expected


def test_text_column_named_n_is_not_a_count() -> None:
    stat = SrcStat(name="q", query="SELECT 1")
    assert find_count_column(stat, ["n"], [{"n": "abc"}]) is None


def test_row_level_warning(sqlite_url: str, source_of: Any) -> None:
    _exec(sqlite_url, "CREATE TABLE p (id INTEGER, grp TEXT)",
          "INSERT INTO p VALUES " + ", ".join(f"({i}, 'g{i % 3}')" for i in range(80)))
    config = _config(
        {"name": "rows", "query": "SELECT id, grp FROM p"},
        {"name": "window", "query": "SELECT id, COUNT(*) OVER () AS total FROM p"},
        {"name": "grouped", "query": "SELECT id, COUNT(*) AS c FROM p GROUP BY id",
         "min-count": 0},
        {"name": "few", "query": "SELECT id FROM p LIMIT 10"},
    )
    data = make_src_stats(source_of(sqlite_url), config)
    assert "row-level" in data["rows"]["warnings"][0] and "80 rows" in data["rows"]["warnings"][0]
    assert "row-level" in data["window"]["warnings"][0]
    assert "warnings" not in data["grouped"] and "warnings" not in data["few"]
    assert row_level_warning("SELECT grp FROM p GROUP BY grp", "sqlite", 100) is None


# --- use-asyncio ------------------------------------------------------------------------------

def test_use_asyncio_equals_serial(small_db: str, source_of: Any) -> None:
    stats: list[dict[str, Any]] = [
        {"name": "count", "query": "SELECT COUNT(*) AS n FROM t WHERE grp LIKE 'g%'"},
        {"name": "modulo", "query": "SELECT id % 3 AS r, COUNT(*) AS n FROM t "
                                    "GROUP BY id % 3 ORDER BY 1"},
        {"name": "groups", "query": "SELECT grp, COUNT(*) AS n, SUM(amount) AS s FROM t "
                                    "GROUP BY grp ORDER BY grp", "min-count": 0},
        {"name": "max", "query": "SELECT MAX(amount) AS top FROM t"},
        {"name": "ids", "query": "SELECT id FROM t ORDER BY id"},
        {"name": "big", "query": "SELECT grp, MIN(id) AS lo FROM t GROUP BY grp ORDER BY grp"},
        {"name": "avg", "query": "SELECT AVG(amount) AS mean FROM t"},
    ]
    source = source_of(small_db)
    serial = make_src_stats(source, _config(*stats))
    seen: list[str] = []
    concurrent = make_src_stats(source, _config(*stats, **{"use-asyncio": True}),
                                lambda run: seen.append(run.name))
    assert _without_times(concurrent) == _without_times(serial)
    assert list(concurrent) == [s["name"] for s in stats] == seen
    assert serial["groups"]["results"]  # a real comparison, not two empty results
    assert serial["count"]["results"] == [{"n": 28}]
    assert [r["n"] for r in serial["modulo"]["results"]] == [10, 9, 9]


def test_use_asyncio_failure_names_the_query(small_db: str, source_of: Any) -> None:
    config = _config({"name": "fine", "query": "SELECT 1 AS x"},
                     {"name": "bad", "query": "SELECT nope FROM t"},
                     {"name": "also_fine", "query": "SELECT 2 AS y"},
                     **{"use-asyncio": True})
    with pytest.raises(SynthgateError, match="'bad'"):
        make_src_stats(source_of(small_db), config)
