"""Fidelity report (issue 6): the proposed aggregates measured on a synthetic database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from synthgate_agent.propose import propose
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import open_source
from synthgate_agent.stats import make_src_stats, render_src_stats
from synthgate_builder.cli import app
from synthgate_builder.report import build_report, synthetic_sql
from synthgate_shared.cli import run_app
from synthgate_shared.config import config_from_data
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, dump_orm
from synthgate_shared.yamlio import load_yaml_text

DDL = [
    "CREATE TABLE parent (id integer PRIMARY KEY, kind varchar(5) NOT NULL, region varchar(4))",
    "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES "
    "parent(id), amount numeric(6,2), made date, due date, note text)",
]


def _fill(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for ddl in DDL:
            conn.exec_driver_sql(ddl)
        conn.execute(sa.text(
            "INSERT INTO parent SELECT i, CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END, "
            "CASE WHEN i % 4 = 0 THEN NULL ELSE 'r' || (i % 2) END FROM generate_series(1, 120) i"))
        conn.execute(sa.text(
            "INSERT INTO child SELECT i, 1 + (i % 60), (i % 97) * 1.25, "
            "DATE '2022-01-01' + (i % 200), DATE '2022-01-01' + (i % 200) + (i % 9), "
            "repeat('x', i % 30) FROM generate_series(1, 600) i"))
    engine.dispose()


@pytest.fixture
def source_and_stats(pg_url_factory: Callable[[], str]) -> tuple[str, OrmModel, dict[str, Any]]:
    url = pg_url_factory()
    _fill(url)
    source = open_source(url)
    model = reflect_schema(source)
    proposal = propose(model, config_from_data({}))
    config = config_from_data({"src-stats": proposal.src_stats})
    # through the YAML text, as the builder reads src-stats.yaml
    stats = load_yaml_text(render_src_stats(make_src_stats(source, config)), "src-stats.yaml")
    source.engine.dispose()
    return url, model, stats


def test_identical_data_gives_zero_distances(
        source_and_stats: tuple[str, OrmModel, dict[str, Any]],
        pg_url_factory: Callable[[], str]) -> None:
    _, model, stats = source_and_stats
    dst = pg_url_factory()
    _fill(dst)
    report = build_report(sa.create_engine(dst), None, model, stats)
    summary = report.summary()
    assert summary["tvd"] == 0
    assert summary["ks"] == 0
    assert summary["children"] == 0
    assert summary["nulls"] == 0
    assert summary["corr"] == pytest.approx(0, abs=1e-9)
    assert summary["rows"] == 0
    assert summary["fk"] == 0 and summary["unique"] == 0
    kinds = {m.kind for m in report.metrics}
    assert {"tvd", "ks", "length_ks", "children", "nulls", "corr", "rows", "fk",
            "unique"} <= kinds
    assert not report.skipped


def test_cli_writes_files_and_fails_under_thresholds(
        source_and_stats: tuple[str, OrmModel, dict[str, Any]],
        pg_url_factory: Callable[[], str], tmp_path: Path) -> None:
    _, model, stats = source_and_stats
    (tmp_path / "orm.yaml").write_text(dump_orm(model))
    (tmp_path / "src-stats.yaml").write_text(render_src_stats(stats))
    (tmp_path / "config.yaml").write_text("src-stats: []\n")
    dst = pg_url_factory()
    _fill(dst)
    args = ["report", "--dsn", dst, "--config-file", str(tmp_path / "config.yaml"),
            "--orm-file", str(tmp_path / "orm.yaml"), "--stats-file",
            str(tmp_path / "src-stats.yaml"), "--out-dir", str(tmp_path / "out")]
    assert run_app(app, "synthgate-builder", [*args, "--fail-under", "tvd=0.01"]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "parent" in markdown
    # each figure with its threshold and result; each kind of metric explained
    assert "| median TVD (categorical) | 0 | 0.01 (--fail-under) | pass |" in markdown
    assert "| max null-fraction difference | 0 | 0.05 (default) | pass |" in markdown
    assert "largest gap between the source&#39;s and the synthetic cumulative distribution" in html
    assert "CDF of child.made" in html and 'class="axis x-axis"' in html
    assert "loose files (no bundle)" in html and "not recorded" in html
    engine = sa.create_engine(dst)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE parent SET kind = 'a'")
        conn.exec_driver_sql("UPDATE child SET amount = amount * 3, made = made + 100")
    engine.dispose()
    assert run_app(app, "synthgate-builder", [*args, "--fail-under", "tvd=0.05"]) == 1
    assert run_app(app, "synthgate-builder", [*args, "--fail-under", "ks=0.05"]) == 1
    assert run_app(app, "synthgate-builder", [*args, "--fail-under", "fk=0"]) == 0
    assert run_app(app, "synthgate-builder", [*args, "--fail-under", "bogus=1"]) == 1


def test_broken_keys_are_counted(source_and_stats: tuple[str, OrmModel, dict[str, Any]],
                                 pg_url_factory: Callable[[], str]) -> None:
    _, model, stats = source_and_stats
    dst = pg_url_factory()
    engine = sa.create_engine(dst)
    with engine.begin() as conn:  # same tables without constraints, so bad rows can exist
        conn.exec_driver_sql("CREATE TABLE parent (id integer, kind varchar(5), region "
                             "varchar(4))")
        conn.exec_driver_sql("CREATE TABLE child (id integer, parent_id integer, amount "
                             "numeric(6,2), made date, due date, note text)")
        conn.exec_driver_sql("INSERT INTO parent VALUES (1, 'a', 'r1'), (1, 'b', 'r1')")
        conn.exec_driver_sql("INSERT INTO child VALUES (1, 1, 1, NULL, NULL, 'x'), "
                             "(2, 99, 2, NULL, NULL, 'y')")
    summary = build_report(engine, None, model, stats).summary()
    assert summary["fk"] == 1
    assert summary["unique"] == 1


def test_destination_not_matching_orm_is_one_clear_error(
        source_and_stats: tuple[str, OrmModel, dict[str, Any]],
        pg_url_factory: Callable[[], str]) -> None:
    _, model, stats = source_and_stats
    dst = pg_url_factory()
    engine = sa.create_engine(dst)
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL[0])
    with pytest.raises(SynthgateError, match="no table 'child'"):
        build_report(engine, None, model, stats)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE child (id integer, parent_id integer)")
    with pytest.raises(SynthgateError, match="no column 'amount'"):
        build_report(engine, None, model, stats)


def test_dp_query_runs_exactly_over_its_query() -> None:
    entry = {"query": 'SELECT "kind" FROM "parent"',
             "dp-query": 'SELECT "kind", COUNT(*) AS n FROM query_result GROUP BY "kind"'}
    sql = synthetic_sql(entry, "postgresql", "sqlite")
    assert "FROM (SELECT" in sql and "query_result" in sql


def test_cli_on_a_database_not_matching_orm_is_one_line(
        source_and_stats: tuple[str, OrmModel, dict[str, Any]],
        pg_url_factory: Callable[[], str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, model, stats = source_and_stats
    (tmp_path / "orm.yaml").write_text(dump_orm(model))
    (tmp_path / "src-stats.yaml").write_text(render_src_stats(stats))
    (tmp_path / "config.yaml").write_text("src-stats: []\n")
    dst = pg_url_factory()
    engine = sa.create_engine(dst)
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL[0])
    engine.dispose()
    assert run_app(app, "synthgate-builder", [
        "report", "--dsn", dst, "--config-file", str(tmp_path / "config.yaml"),
        "--orm-file", str(tmp_path / "orm.yaml"), "--stats-file",
        str(tmp_path / "src-stats.yaml"), "--out-dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no table 'child'" in err
    assert not (tmp_path / "out" / "report.md").exists()


def test_row_counts_of_small_and_empty_tables_are_compared(
        pg_url_factory: Callable[[], str]) -> None:
    """A 5-row table's row count is released (min-count 0 on the profile) and compared, an
    empty source table counts any synthetic row as a deviation, and a suppressed profile (an
    older bundle) is listed as not compared rather than passing silently."""
    url = pg_url_factory()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE tiny (id integer PRIMARY KEY, label text)")
        conn.exec_driver_sql("CREATE TABLE none_yet (id integer PRIMARY KEY, label text)")
        conn.exec_driver_sql("INSERT INTO tiny SELECT i, 'x' || i FROM generate_series(1, 5) i")
    source = open_source(url)
    model = reflect_schema(source)
    proposal = propose(model, config_from_data({}))
    stats = make_src_stats(source, config_from_data({"src-stats": proposal.src_stats}))
    source.engine.dispose()
    assert stats["auto__tiny__profile"]["results"][0]["n"] == 5
    assert stats["auto__tiny__profile"]["results"][0]["label__len_q"] is None  # withheld
    rows = {m.table: m.value for m in build_report(engine, None, model, stats).metrics
            if m.kind == "rows"}
    assert rows == {"tiny": 0.0, "none_yet": 0.0}
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM tiny WHERE id > 1")
        conn.exec_driver_sql("INSERT INTO none_yet VALUES (1, 'a')")
    old = {**stats, "auto__tiny__profile": {**stats["auto__tiny__profile"], "results": []}}
    report = build_report(engine, None, model, old)
    assert {m.table: m.value for m in report.metrics if m.kind == "rows"} == {"none_yet": 1.0}
    assert any("tiny's row count is not compared" in s for s in report.skipped)
    engine.dispose()


def test_run_record_round_trip_and_bad_files(tmp_path: Path) -> None:
    """create-data --run-record writes the run facts the report's header shows; a file that
    is not a run record is one clear error."""
    from synthgate_builder.runrecord import read_run_record

    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(SynthgateError, match="not a synthgate run record"):
        read_run_record(tmp_path / "bad.json")
    with pytest.raises(SynthgateError, match="cannot read the run record"):
        read_run_record(tmp_path / "missing.json")


def test_hand_written_aggregates_are_run_again(sqlite_url: str) -> None:
    """A plain aggregate of config.yaml runs on the synthetic database next to the bundle's
    result; a row-level query and one over an ignored table are listed as not compared."""
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id integer PRIMARY KEY, k text)")
        conn.exec_driver_sql("CREATE TABLE gone (id integer PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1, 'a'), (2, 'a'), (3, 'b')")
    source = open_source(sqlite_url)
    model = reflect_schema(source)
    source.engine.dispose()
    stats = {"k_counts": {"query": "SELECT k, count(*) AS n FROM t GROUP BY k",
                          "results": [{"k": "a", "n": 20}, {"k": "c", "n": 9}]},
             "rows": {"query": "SELECT k FROM t", "results": []},
             "old": {"query": "SELECT count(*) AS n FROM gone", "results": [{"n": 1}]}}
    report = build_report(engine, None, model, stats, ignored={"gone"})
    assert [c.name for c in report.custom] == ["k_counts"]
    assert sorted(report.custom[0].synthetic, key=str) == [{"k": "a", "n": 2}, {"k": "b", "n": 1}]
    assert any(s.startswith("rows: not compared (not a plain SQL aggregate)")
               for s in report.skipped)
    assert any("reads ignored table 'gone'" in s for s in report.skipped)
    from synthgate_builder.report_view import custom_view

    view = custom_view(report.custom[0])
    assert view["columns"] == ["k", "n (source / synthetic)"]
    assert view["rows"] == [["a", "20 / 2"], ["c", "9 / NULL"], ["b", "- / 1"]]
    with engine.connect() as conn:  # the read-only guard did not stay on the connection
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0
    engine.dispose()


def test_statistics_run_read_only_on_every_database(any_db_url: str) -> None:
    """The report's queries run in a read-only transaction: a write through the same path
    fails, and the connection is usable (and writable) afterwards."""
    from sqlalchemy.exc import DBAPIError
    from synthgate_builder.report import _run

    engine = sa.create_engine(any_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE w (id integer PRIMARY KEY)")
    assert _run(engine, None, "SELECT count(*) AS n FROM w") == [{"n": 0}]
    with pytest.raises(DBAPIError):
        _run(engine, None, "INSERT INTO w VALUES (1)")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO w VALUES (2)")
    assert _run(engine, None, "SELECT count(*) AS n FROM w") == [{"n": 1}]
    engine.dispose()
