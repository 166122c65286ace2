"""Issue 12, "the agent only reads" and "row-level results refused", against real databases.

Every statement of the red-team pass that ran a side effect on the source (COPY TO PROGRAM,
server files, admin functions, dblink, SET GLOBAL, SET STATEMENT ... FOR) and every query
that let row-level data into ``src-stats.yaml`` (GROUP BY email, array_agg/string_agg/
group_concat, a 3M-row result) is refused with one line naming what it found; no marker
file appears and the source is unchanged (row counts and checksums before and after).
The sources are reached as the superuser on purpose: the refusals must not depend on the
role (the role check at connect is another layer).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from synthgate_agent.bundle import pack_bundle
from synthgate_agent.propose import propose
from synthgate_agent.reflect import reflect_schema
from synthgate_agent.source import Source, open_source
from synthgate_agent.stats import make_src_stats, make_stats_file
from synthgate_shared.config import Config, config_from_data
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import dump_orm
from synthgate_shared.review import review_bundle
from synthgate_shared.signing import generate_keypair

PEOPLE = 1_500  # more distinct e-mail addresses than the default cap of 1,000 rows


def _run(url: str, *statements: str) -> None:
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


def _snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the source with its row count and a checksum of its sorted rows."""
    engine = sa.create_engine(url)
    tables = sorted(sa.inspect(engine).get_table_names())
    found = {}
    with engine.connect() as conn:
        for table in tables:
            quoted = conn.dialect.identifier_preparer.quote(table)
            rows = sorted(repr(tuple(r)) for r in conn.exec_driver_sql(f"SELECT * FROM {quoted}"))
            found[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    engine.dispose()
    return found


def _people(url: str) -> str:
    values = ", ".join(f"({i}, 'person{i}@example.org', 'g{i % 3}')" for i in range(PEOPLE))
    _run(url, "CREATE TABLE person (id INTEGER PRIMARY KEY, email VARCHAR(80), grp VARCHAR(5))",
         f"INSERT INTO person VALUES {values}")
    return url


@pytest.fixture
def opened() -> Iterator[Any]:
    """Open read-only sources by URL; dispose them after the test."""
    sources: list[Source] = []

    def open_(url: str) -> Source:
        sources.append(open_source(url, timeout_s=60))
        return sources[-1]

    yield open_
    for source in sources:
        source.engine.dispose()


def _config(*stats: dict[str, Any], **top: Any) -> Config:
    return config_from_data({"src-stats": list(stats), **top})


def _refused(source: Source, sql: str, **keys: Any) -> str:
    """The one-line refusal of ``sql``, which must name the statistic."""
    with pytest.raises(SynthgateError) as err:
        make_src_stats(source, _config({"name": "hostile", "query": sql, **keys}))
    message = str(err.value)
    assert "'hostile'" in message and "\n" not in message
    return message


def _marker() -> Path:
    # the database server's OS user must be able to write it: /tmp, not pytest's tmp_path
    return Path("/tmp") / f"synthgate-pwned-{uuid.uuid4().hex}"


# --- PostgreSQL ---------------------------------------------------------------------------------

@pytest.fixture
def pg_people(pg_url: str) -> str:
    return _people(pg_url)


PG_SIDE_EFFECTS = [
    ("COPY (SELECT 1) TO PROGRAM 'touch {marker}'", "this is COPY, not a SELECT"),
    ("COPY person TO '{marker}'", "this is COPY, not a SELECT"),
    ("SELECT pg_read_file('/etc/passwd') AS f", "pg_read_file() reads or writes files"),
    ("SELECT pg_read_binary_file('/etc/passwd') AS f", "pg_read_binary_file() reads"),
    ("SELECT * FROM pg_ls_dir('/')", "pg_ls_dir() reads or writes files"),
    ("SELECT * FROM pg_catalog.pg_ls_dir('/')", "pg_ls_dir()"),
    ("SELECT pg_stat_file('/etc/passwd')", "pg_stat_file()"),
    ("SELECT lo_import('/etc/passwd')", "lo_import()"),
    ("SELECT lo_export(1, '{marker}')", "lo_export()"),
    ("SELECT pg_reload_conf()", "pg_reload_conf() changes the server"),
    ("SELECT pg_switch_wal()", "pg_switch_wal() changes the server"),
    ("SELECT pg_stat_reset()", "pg_stat_reset() changes the server"),
    ("SELECT pg_stat_reset_shared('bgwriter')", "pg_stat_reset_shared()"),
    ("SELECT pg_cancel_backend(pg_backend_pid())", "pg_cancel_backend()"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend()"),
    ("SELECT set_config('statement_timeout', '0', false)", "set_config()"),
    ("SELECT pg_advisory_lock(1)", "pg_advisory_lock() takes or waits for locks"),
    ("SELECT nextval('person_seq')", "nextval() moves a sequence"),
    ("SELECT pg_sleep(15)", "pg_sleep() sleeps"),
    ("SELECT count(*) FROM person WHERE pg_sleep(1) IS NULL", "pg_sleep()"),
    ("SELECT my_function(1)", "my_function() is not on the allow-list"),
    ("SET statement_timeout = 0", "this is SET, not a SELECT"),
    ("EXPLAIN ANALYZE SELECT count(*) FROM person", "this is EXPLAIN, not a SELECT"),
    ("LOCK TABLE person", "this is LOCK, not a SELECT"),
    ("CALL some_procedure()", "this is CALL, not a SELECT"),
    ("DO $$ BEGIN PERFORM 1; END $$", "this is DO, not a SELECT"),
    ("SELECT * FROM person FOR UPDATE", "FOR UPDATE/FOR SHARE"),
    ("SELECT * FROM person FOR SHARE", "FOR UPDATE/FOR SHARE"),
    ("WITH gone AS (DELETE FROM person RETURNING id) SELECT count(*) FROM gone",
     "data-modifying statement"),
    ("SELECT * INTO person_copy FROM person", "SELECT ... INTO"),
    ("SELECT 1; DROP TABLE person", "more than one SQL statement"),
    ("SELECT rolname, rolpassword FROM pg_authid", "pg_authid holds credentials"),
    ("SELECT usename, passwd FROM pg_catalog.pg_shadow", "pg_shadow holds credentials"),
    ("SELECT query FROM pg_stat_activity", "pg_stat_activity holds"),
]


@pytest.mark.parametrize(("sql", "fragment"), PG_SIDE_EFFECTS)
def test_postgresql_side_effects_refused(pg_people: str, opened: Any, sql: str,
                                         fragment: str) -> None:
    _run(pg_people, "CREATE SEQUENCE person_seq")
    before = _snapshot(pg_people)
    marker = _marker()
    message = _refused(opened(pg_people), sql.format(marker=marker))
    assert fragment in message
    assert not marker.exists()
    assert _snapshot(pg_people) == before
    assert _scalar(pg_people, "SELECT last_value FROM person_seq") == 1
    assert not _scalar(pg_people, "SELECT is_called FROM person_seq")


def test_postgresql_dblink_exec_refused(pg_people: str, opened: Any) -> None:
    if not _scalar(pg_people, "SELECT count(*) FROM pg_available_extensions "
                              "WHERE name = 'dblink'"):
        pytest.skip("the dblink extension is not installed on this server")
    _run(pg_people, "CREATE EXTENSION dblink")
    before = _snapshot(pg_people)
    database = sa.make_url(pg_people).database
    for sql in (f"SELECT dblink_exec('dbname={database}', 'CREATE TABLE pwned (a int)')",
                f"SELECT * FROM dblink('dbname={database}', 'SELECT 1') AS t(a int)"):
        assert "reaches another database" in _refused(opened(pg_people), sql)
    assert _snapshot(pg_people) == before


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT string_agg(email, ',') AS emails FROM person", "string_agg() packs"),
    ("SELECT array_agg(email) AS emails FROM person", "array_agg() packs"),
    ("SELECT json_agg(email) AS emails FROM person", "json_agg() packs"),
    ("SELECT jsonb_agg(email) AS emails FROM person", "jsonb_agg() packs"),
    ("SELECT json_object_agg(id, email) AS emails FROM person", "json_object_agg() packs"),
    ("SELECT xmlagg(xmlelement(name e, email)) AS emails FROM person", "xmlagg() packs"),
    ("SELECT ARRAY(SELECT email FROM person) AS emails", "array() packs"),
    ("SELECT grp, count(*) AS n, (SELECT string_agg(email, ',') FROM person) AS e FROM person "
     "GROUP BY grp", "string_agg() packs"),
])
def test_postgresql_row_packing_refused(pg_people: str, opened: Any, sql: str,
                                        fragment: str) -> None:
    assert fragment in _refused(opened(pg_people), sql)


def test_postgresql_row_level_results_refused(pg_people: str, opened: Any) -> None:
    source = opened(pg_people)
    before = _snapshot(pg_people)
    message = _refused(source, "SELECT email, count(*) AS n FROM person GROUP BY email")
    assert "more than 1,000 rows" in message and "max-rows" in message
    # 3M rows: refused after the first batches, without fetching them all
    message = _refused(source, "SELECT g, md5(g::text) AS h FROM generate_series(1, 3000000) g")
    assert "more than 1,000 rows" in message
    message = _refused(source, "SELECT rpad(email, 20000, 'x') AS wide FROM person LIMIT 100")
    assert "more than 1,000,000 bytes" in message and "max-bytes" in message
    assert _snapshot(pg_people) == before
    # the connection of a refused statistic is closed: no query of it is left running
    assert not _scalar(pg_people, "SELECT count(*) FROM pg_stat_activity WHERE strpos(query, "
                                  "'generate_series(1, 3000000)') > 0 "
                                  "AND pid <> pg_backend_pid()")


def test_postgresql_ordinary_statistics_still_run(pg_people: str, opened: Any) -> None:
    data = make_src_stats(opened(pg_people), _config(
        {"name": "groups", "query": "SELECT grp, count(*) AS n, count(DISTINCT email) AS d "
                                    "FROM person GROUP BY grp ORDER BY grp"},
        {"name": "shape", "query":
            "SELECT percentile_cont(ARRAY[0.25, 0.5]) WITHIN GROUP (ORDER BY id) AS q, "
            "avg(char_length(email)) AS len, sum(CASE WHEN email ~ '^person1' THEN 1 END) AS ones,"
            " count(*) FILTER (WHERE lower(grp) LIKE 'g%') AS n, max(CAST(id AS float)) AS top, "
            "coalesce(min(nullif(id, 0)), 0) AS low, extract(epoch FROM now()) > 0 AS clock, "
            "stddev(id) AS sd, corr(id, id) AS r, EXISTS (SELECT 1 FROM person p WHERE "
            "p.id = 1) AS one FROM person TABLESAMPLE BERNOULLI (100) REPEATABLE (7)"},
        {"name": "joined", "query": "SELECT count(*) AS n FROM person a JOIN person b "
                                    "ON a.id = b.id WHERE a.grp = 'g1'"},
    ))
    assert [r["n"] for r in data["groups"]["results"]] == [500, 500, 500]
    assert data["shape"]["results"][0]["ones"] == 611 and data["joined"]["results"] == [
        {"n": 500}]


# --- MariaDB ------------------------------------------------------------------------------------

@pytest.fixture
def maria_people(maria_url: str) -> str:
    return _people(maria_url)


MARIA_SIDE_EFFECTS = [
    ("SELECT LOAD_FILE('/etc/passwd') AS f", "load_file() reads or writes files"),
    ("SET GLOBAL max_connections = 1000", "this is SET, not a SELECT"),
    ("SET STATEMENT max_statement_time = 0 FOR SELECT SLEEP(15)", "SET STATEMENT ... FOR"),
    ("SELECT SLEEP(15)", "sleep() sleeps"),
    ("SELECT BENCHMARK(100000000, MD5('x'))", "benchmark() sleeps or burns server time"),
    ("SELECT GET_LOCK('x', 10)", "get_lock() takes or waits for locks"),
    ("SELECT email FROM person INTO OUTFILE '{marker}'", "SELECT ... INTO"),
    ("SELECT email FROM person LIMIT 1 INTO DUMPFILE '{marker}'", "SELECT ... INTO"),
    ("SELECT id FROM person LIMIT 1 INTO @leak", "SELECT ... INTO"),
    ("SELECT @x := 1 AS one", "user variable"),
    ("SELECT id FROM person LOCK IN SHARE MODE", "FOR UPDATE/FOR SHARE/LOCK IN SHARE MODE"),
    ("SELECT id FROM person FOR UPDATE", "FOR UPDATE/FOR SHARE"),
    ("SELECT 1 AS one /*!50000 , SLEEP(15) */", "executable comment"),
    ("SELECT 1 AS one /*M!100000 , SLEEP(15) */", "executable comment"),
    ("SELECT 1; SET GLOBAL max_connections = 1000", "more than one SQL statement"),
    ("DO SLEEP(1)", "cannot be read as SQL"),
    ("SELECT User, Password FROM mysql.user", "mysql.user holds credentials"),
    ("SELECT info FROM information_schema.PROCESSLIST", "processlist holds"),
]


@pytest.mark.parametrize(("sql", "fragment"), MARIA_SIDE_EFFECTS)
def test_mariadb_side_effects_refused(maria_people: str, opened: Any, sql: str,
                                      fragment: str) -> None:
    before = _snapshot(maria_people)
    connections = _scalar(maria_people, "SELECT @@GLOBAL.max_connections")
    marker = _marker()
    message = _refused(opened(maria_people), sql.format(marker=marker))
    assert fragment in message
    assert not marker.exists()
    assert _snapshot(maria_people) == before
    assert _scalar(maria_people, "SELECT @@GLOBAL.max_connections") == connections


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT GROUP_CONCAT(email) AS emails FROM person", "group_concat() packs"),
    ("SELECT GROUP_CONCAT(email SEPARATOR ';') AS emails FROM person", "group_concat() packs"),
    ("SELECT JSON_ARRAYAGG(email) AS emails FROM person", "json_arrayagg() packs"),
    ("SELECT JSON_OBJECTAGG(id, email) AS emails FROM person", "packs"),
])
def test_mariadb_row_packing_refused(maria_people: str, opened: Any, sql: str,
                                     fragment: str) -> None:
    assert fragment in _refused(opened(maria_people), sql)


def test_mariadb_row_level_results_refused(maria_people: str, opened: Any) -> None:
    source = opened(maria_people)
    before = _snapshot(maria_people)
    assert "more than 1,000 rows" in _refused(
        source, "SELECT email, count(*) AS n FROM person GROUP BY email")
    # 3M rows from the SEQUENCE engine: refused after the first batches
    assert "more than 1,000 rows" in _refused(
        source, "SELECT seq, MD5(seq) AS h FROM seq_1_to_3000000")
    assert _snapshot(maria_people) == before


# --- SQLite -------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_people(sqlite_url: str) -> str:
    return _people(sqlite_url)


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT load_extension('/tmp/evil') AS x", "load_extension() changes the server"),
    ("PRAGMA query_only = OFF", "this is PRAGMA, not a SELECT"),
    ("SELECT * FROM pragma_table_info('person')", "pragma_table_info() is not on the allow"),
    ("ATTACH DATABASE '{marker}' AS pwned", "not a SELECT"),
    ("SELECT group_concat(email) AS emails FROM person", "group_concat() packs"),
    ("SELECT group_concat(email, ';') AS emails FROM person", "group_concat() packs"),
    ("SELECT json_group_array(email) AS emails FROM person", "json_group_array() packs"),
    ("SELECT json_group_object(id, email) AS emails FROM person", "json_group_object() packs"),
    ("SELECT email, count(*) AS n FROM person GROUP BY email", "more than 1,000 rows"),
    ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000000) "
     "SELECT i FROM r", "more than 1,000 rows"),
])
def test_sqlite_refusals(sqlite_people: str, opened: Any, sql: str, fragment: str) -> None:
    before = _snapshot(sqlite_people)
    marker = _marker()
    assert fragment in _refused(opened(sqlite_people), sql.format(marker=marker))
    assert not marker.exists()
    assert _snapshot(sqlite_people) == before


# --- what the config may open, and what the review shows ------------------------------------

def test_raised_cap_needs_a_reason(sqlite_people: str, opened: Any) -> None:
    sql = "SELECT email, count(*) AS n FROM person GROUP BY email"
    with pytest.raises(SynthgateError, match="need a `reason:`"):
        _config({"name": "wide", "query": sql, "max-rows": 2000})
    data = make_src_stats(opened(sqlite_people), _config(
        {"name": "wide", "query": sql, "max-rows": 2000, "reason": "checked: test data",
         "min-count": 1}))
    assert len(data["wide"]["results"]) == PEOPLE


def test_allow_functions_opens_a_name_with_a_warning(pg_people: str, opened: Any) -> None:
    sql = "SELECT grp, string_agg(DISTINCT grp, ',') AS g FROM person GROUP BY grp"
    data = make_src_stats(opened(pg_people), _config(
        {"name": "packed", "query": sql}, **{"allow-functions": ["string_agg"]}))
    assert "string_agg() packs" in data["packed"]["warnings"][0]
    assert len(data["packed"]["results"]) == 3


@pytest.mark.parametrize("name", ["pg_read_file", "PG_SLEEP", "dblink_exec", "set_config",
                                  "lo_import", "nextval", "load_file", "sleep"])
def test_allow_functions_cannot_open_dangerous_functions(pg_people: str, opened: Any,
                                                         name: str) -> None:
    with pytest.raises(SynthgateError, match="cannot be opened"):
        make_src_stats(opened(pg_people), _config(
            {"name": "a", "query": "SELECT 1 AS one"}, **{"allow-functions": [name]}))


def test_review_lists_opened_functions_and_raised_caps(sqlite_people: str,
                                                       tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "allow-functions: [group_concat]\n"
        "src-stats:\n"
        "  - name: wide\n"
        "    query: SELECT email, count(*) AS n FROM person GROUP BY email\n"
        "    max-rows: 2000\n"
        "    min-count: 1\n"
        "    reason: the e-mail addresses are invented test data\n"
        "  - name: packed\n"
        "    query: SELECT group_concat(DISTINCT grp) AS g FROM person\n")
    source = open_source(sqlite_people)
    try:
        (tmp_path / "orm.yaml").write_text(dump_orm(reflect_schema(source)))
    finally:
        source.engine.dispose()
    make_stats_file(sqlite_people, None, tmp_path / "config.yaml", tmp_path / "src-stats.yaml",
                    False, None)
    generate_keypair(tmp_path / "agent")
    bundle = pack_bundle(tmp_path / "bundle.tar.gz", tmp_path / "agent.pem",
                         tmp_path / "config.yaml", tmp_path / "orm.yaml",
                         tmp_path / "src-stats.yaml", tmp_path)
    _, md_path = review_bundle(bundle, [tmp_path / "agent.pub"], tmp_path / "review")
    review = md_path.read_text()
    assert "allow\\-functions" in review or "allow-functions" in review
    assert "group\\_concat" in review or "group_concat" in review
    assert "max-rows 2000" in review
    assert "the e-mail addresses are invented test data" in review


# --- the agent's own proposals -----------------------------------------------------------------

@pytest.mark.parametrize("which", ["mariadb", "sqlite"])
def test_proposed_statistics_pass_the_guard(which: str, request: pytest.FixtureRequest,
                                            opened: Any) -> None:
    url = request.getfixturevalue("maria_url" if which == "mariadb" else "sqlite_url")
    _run(url, "CREATE TABLE owner (id INTEGER PRIMARY KEY, kind VARCHAR(5), born DATE, "
              "score REAL, note TEXT)",
         "CREATE TABLE pet (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owner(id), "
         "status VARCHAR(8))",
         "INSERT INTO owner VALUES " + ", ".join(
             f"({i}, '{'ab'[i % 2]}', '2000-01-{1 + i % 28:02d}', {i * 1.5}, "
             f"'note {'x' * (i % 9)}')" for i in range(1, 201)),
         "INSERT INTO pet VALUES " + ", ".join(f"({i}, {1 + i % 50}, 'ok')"
                                               for i in range(1, 201)))
    source = opened(url)
    proposal = propose(reflect_schema(source), config_from_data({}))
    data = make_src_stats(source, config_from_data({"src-stats": proposal.src_stats}))
    assert data["auto__owner__profile"]["results"][0]["n"] == 200
    assert all("warnings" not in entry for entry in data.values())


def test_builder_report_refuses_bundle_queries_that_are_not_reads(sqlite_people: str) -> None:
    from synthgate_builder.report import build_report

    source = open_source(sqlite_people)
    try:
        model = reflect_schema(source)
    finally:
        source.engine.dispose()
    marker = _marker()
    stats = {"auto__person__profile": {"query": f"ATTACH DATABASE '{marker}' AS pwned",
                                       "results": [{"n": PEOPLE}]},
             "auto__person__grp__freq": {"query": "SELECT load_extension('/tmp/evil') AS grp, "
                                            "count(*) AS n FROM person", "results": []}}
    before = _snapshot(sqlite_people)
    engine = sa.create_engine(sqlite_people)
    try:
        report = build_report(engine, None, model, stats)
    finally:
        engine.dispose()
    assert len(report.skipped) == 2 and all("refused" in s for s in report.skipped)
    assert not marker.exists() and _snapshot(sqlite_people) == before


def test_postgresql_reads_strings_as_the_check_did(pg_people: str, opened: Any) -> None:
    # with standard_conforming_strings off the server would read \' as a quote, end the
    # first literal later and run nextval(); the agent pins it on, so the server reads the two
    # literals the check saw
    database = sa.make_url(pg_people).database
    _run(pg_people, "CREATE SEQUENCE person_seq",
         f'ALTER DATABASE "{database}" SET standard_conforming_strings = off')
    data = make_src_stats(opened(pg_people), _config(
        {"name": "text", "query": "SELECT 'a\\' AS s, ', nextval($$person_seq$$) AS t --' AS u"}))
    assert data["text"]["results"] == [{"s": "a\\", "u": ", nextval($$person_seq$$) AS t --"}]
    assert not _scalar(pg_people, "SELECT is_called FROM person_seq")


@pytest.mark.parametrize(("mode", "expected"), [
    ("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION", None),
    ("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES"),
    ("REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI", "REAL_AS_FLOAT,"
     "PIPES_AS_CONCAT,IGNORE_SPACE"),
    ("", None),
])
def test_mysql_modes_that_move_string_ends_are_dropped(mode: str, expected: str | None) -> None:
    from synthgate_agent.stats import sql_mode_as_checked

    assert sql_mode_as_checked(mode) == expected


def test_mariadb_session_without_backslash_escapes_reads_strings_as_checked(
        maria_people: str, opened: Any) -> None:
    source = opened(maria_people)

    @sa.event.listens_for(source.engine, "connect")
    def _no_backslash_escapes(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'")
        cursor.close()

    source.engine.dispose()  # every connection from now on gets the mode

    data = make_src_stats(source, _config(
        {"name": "text", "query": "SELECT 'a\\' , SLEEP(15) -- ' AS s"}))
    assert data["text"]["results"] == [{"s": "a' , SLEEP(15) -- "}]
