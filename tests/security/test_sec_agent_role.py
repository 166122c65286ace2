"""The agent refuses a source role that may do more than read, names tables it may not read,
keeps its statement timeouts, and cancels a running query on the server when stopped
(issue 12: role check at connect, timeouts, Ctrl-C; issue 11: a table the agent may not read).

Real PostgreSQL roles and MariaDB users, made with unique names and dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import MARIA_ADMIN, PAGILA, PG_ADMIN, ROOT

AGENT = ROOT / ".venv" / "bin" / "synthgate-agent"
ALLOW = "SYNTHGATE_ALLOW_PRIVILEGED_ROLE"
BIG_ROWS = 3000
# Polls of the server's session list (0.05 s apart) that a cancelled query may take to go.
CANCEL_POLLS = 200

RoleFactory = Callable[..., str]


def _agent(cwd: Path, *args: str, allow: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AGENT), *args], cwd=cwd, env=_env(cwd, allow), text=True,
                          capture_output=True, stdin=subprocess.DEVNULL)


def _env(cwd: Path, allow: bool) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    if allow:
        env[ALLOW] = "1"
    return env


def _exec(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement.replace("%", "%%"))  # the drivers' format style
    engine.dispose()


def _scalar(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.exec_driver_sql(sql.replace("%", "%%")).scalar_one()
    engine.dispose()
    return int(value)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _no_allow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests decide themselves whether privileged roles are allowed."""
    monkeypatch.delenv(ALLOW, raising=False)


@pytest.fixture
def pg_role() -> Iterator[RoleFactory]:
    """``make(db_url, *grants, attributes="")``: a new login role (grants use ``{role}``);
    its URL to ``db_url``. Every role's privileges and the role go afterwards."""
    made: list[tuple[str, str]] = []

    def make(db_url: str, *grants: str, attributes: str = "") -> str:
        role = _unique("sgrole")
        made.append((db_url, role))
        _exec(db_url, f'CREATE ROLE "{role}" LOGIN {attributes}',
              *(g.format(role=f'"{role}"') for g in grants))
        return db_url.replace("postgres@", f"{role}@", 1)

    yield make
    for db_url, role in made:
        _exec(db_url, f'DROP OWNED BY "{role}"')
        _exec(f"{PG_ADMIN}/postgres", f'DROP ROLE IF EXISTS "{role}"')


def _pg_reader_grants(db_url: str) -> list[str]:
    database = db_url.rsplit("/", 1)[1]
    return [f'GRANT CONNECT ON DATABASE "{database}" TO {{role}}',
            "GRANT USAGE ON SCHEMA public TO {role}",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"]


@pytest.fixture
def maria_user() -> Iterator[RoleFactory]:
    """``make(db_url, *grants)``: a new MariaDB user (grants use ``{user}``); its URL."""
    made: list[str] = []

    def make(db_url: str, *grants: str) -> str:
        user = _unique("sguser")
        made.append(user)
        _exec(f"{MARIA_ADMIN}/", f"CREATE USER '{user}'@'%'",
              *(g.format(user=f"'{user}'@'%'") for g in grants))
        return db_url.replace("root@", f"{user}@", 1)

    yield make
    for user in made:
        _exec(f"{MARIA_ADMIN}/", f"DROP USER IF EXISTS '{user}'@'%'")


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


# ------------------------------------------------------------------ role check at connect


@pytest.mark.parametrize(("kind", "expected"), [
    ("superuser", "is a superuser"),
    ("server_files", "member of pg_read_server_files"),
    ("insert", "has INSERT on public.t"),
    ("create_schema", "has CREATE on schema public"),
])
def test_pg_privileged_roles_are_refused(pg_url: str, pg_role: RoleFactory, tmp_path: Path,
                                         kind: str, expected: str) -> None:
    _exec(pg_url, "CREATE TABLE t (id integer PRIMARY KEY)", "CREATE TABLE u (id integer)")
    grants = {"superuser": [], "server_files": ["GRANT pg_read_server_files TO {role}"],
              "insert": ["GRANT INSERT ON t TO {role}"],
              "create_schema": ["GRANT CREATE ON SCHEMA public TO {role}"]}[kind]
    url = pg_role(pg_url, *_pg_reader_grants(pg_url), *grants,
                  attributes="SUPERUSER" if kind == "superuser" else "")
    line = _one_error_line(_agent(tmp_path, "make-tables", "--dsn", url))
    assert "may do more than read" in line and expected in line, line
    assert "--allow-privileged-role" in line and "docs/OPERATORS.md" in line
    assert not (tmp_path / "orm.yaml").exists()
    for args, allow in ((["--allow-privileged-role"], False), ([], True)):
        done = _agent(tmp_path, "make-tables", "--dsn", url, "--force", *args, allow=allow)
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith("warning: ") and expected in done.stderr
    source = yaml.safe_load((tmp_path / "orm.yaml").read_text())["source"]
    assert source["role"].startswith("sgrole_") and source["privileged_role"] is True


def test_pg_reader_passes_and_signal_backend_warns(pg_url: str, pg_role: RoleFactory,
                                                   tmp_path: Path) -> None:
    _exec(pg_url, "CREATE TABLE t (id integer PRIMARY KEY)")
    url = pg_role(pg_url, *_pg_reader_grants(pg_url))
    done = _agent(tmp_path, "make-tables", "--dsn", url)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    source = yaml.safe_load((tmp_path / "orm.yaml").read_text())["source"]
    assert source["privileged_role"] is False and source["role"].startswith("sgrole_")
    signaller = pg_role(pg_url, *_pg_reader_grants(pg_url), "GRANT pg_signal_backend TO {role}")
    done = _agent(tmp_path, "make-tables", "--dsn", signaller, "--force")
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and "pg_signal_backend" in done.stderr
    database = _database(pg_url)
    all_data = pg_role(pg_url, f'GRANT CONNECT ON DATABASE "{database}" TO {{role}}',
                       "GRANT pg_read_all_data TO {role}")
    done = _agent(tmp_path, "generate-config", "--dsn", all_data)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_pg_superuser_postgres_is_refused_by_every_command(pg_url: str, tmp_path: Path) -> None:
    _exec(pg_url, "CREATE TABLE t (id integer PRIMARY KEY)")
    (tmp_path / "config.yaml").write_text("tables: {t: {vocabulary_table: true}}\n")
    assert _agent(tmp_path, "make-tables", "--dsn", pg_url, allow=True).returncode == 0
    for command in ("make-tables", "generate-config", "make-stats", "make-vocab"):
        line = _one_error_line(_agent(tmp_path, command, "--dsn", pg_url, "--force"))
        assert "the source role 'postgres' may do more than read" in line, (command, line)
    assert not (tmp_path / "src-stats.yaml").exists() and not (tmp_path / "vocab").exists()


@pytest.mark.parametrize(("kind", "expected"), [
    ("root", "ALL PRIVILEGES"),
    ("super", "SUPER (administers the server)"),
    ("file", "FILE (reads and writes server files)"),
    ("insert", "has INSERT on "),
])
def test_mariadb_privileged_users_are_refused(maria_url: str, maria_user: RoleFactory,
                                              tmp_path: Path, kind: str, expected: str) -> None:
    _exec(maria_url, "CREATE TABLE t (id integer PRIMARY KEY)")
    db = _database(maria_url)
    reader = f"GRANT SELECT ON `{db}`.* TO {{user}}"
    grants = {"super": ["GRANT SUPER ON *.* TO {user}"], "file": ["GRANT FILE ON *.* TO {user}"],
              "insert": [f"GRANT INSERT ON `{db}`.`t` TO {{user}}"]}
    url = maria_url if kind == "root" else maria_user(maria_url, reader, *grants[kind])
    line = _one_error_line(_agent(tmp_path, "make-tables", "--dsn", url))
    assert "may do more than read" in line and expected in line, line
    done = _agent(tmp_path, "make-tables", "--dsn", url, "--allow-privileged-role")
    assert done.returncode == 0 and "warning:" in done.stderr, done.stderr
    assert yaml.safe_load((tmp_path / "orm.yaml").read_text())["source"]["privileged_role"]


def test_mariadb_reader_passes(maria_url: str, maria_user: RoleFactory, tmp_path: Path) -> None:
    _exec(maria_url, "CREATE TABLE t (id integer PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    url = maria_user(maria_url, f"GRANT SELECT ON `{_database(maria_url)}`.* TO {{user}}")
    for command in ("make-tables", "generate-config"):
        done = _agent(tmp_path, command, "--dsn", url)
        assert done.returncode == 0 and done.stderr == "", done.stderr
    source = yaml.safe_load((tmp_path / "orm.yaml").read_text())["source"]
    assert source["role"].startswith("sguser_") and source["privileged_role"] is False


# ------------------------------------------------------------------ Pagila as a reader

DP_STAT = """\
- name: customers_by_store_dp
  query: SELECT customer_id, store_id FROM customer
  dp-query: SELECT store_id, count(*) AS n FROM query_result GROUP BY store_id
  epsilon: 0.5
  delta: 0.00001
  snsql-metadata:
    max_ids: 1
    customer_id: {type: int, private_id: true}
    store_id: {type: int, lower: 1, upper: 2}
privacy-budget: {epsilon: 1.0, delta: 0.0001}
"""


def _pagila_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        counts = {n: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{n}"').scalar_one())
                  for n in names}
    engine.dispose()
    return counts


def test_pagila_flow_runs_as_a_least_privilege_reader(pg_url: str, pg_role: RoleFactory,
                                                      tmp_path: Path) -> None:
    # a copy of its own: Pagila's dump grants ALL on schema public to PUBLIC, which the
    # operator revokes (docs/OPERATORS.md), and the session's Pagila stays untouched
    plain = pg_url.replace("+psycopg2", "")
    subprocess.run(["bash", str(PAGILA / "load.sh"), plain], check=True, capture_output=True)
    pagila_url = pg_url
    _exec(pagila_url, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    before = _pagila_counts(pagila_url)
    url = pg_role(pagila_url, *_pg_reader_grants(pagila_url))
    steps = [("generate-config", "--vocabulary", "language"), ("make-tables",), ("make-stats",),
             ("make-vocab",)]
    for step in steps:
        if step[0] == "make-stats":
            with (tmp_path / "config.yaml").open("a") as config:
                config.write(DP_STAT)
        done = _agent(tmp_path, *step, "--dsn", url)
        assert done.returncode == 0, (step, done.stderr)
        assert "warning: the source role" not in done.stderr
    stats = yaml.safe_load((tmp_path / "src-stats.yaml").read_text())
    assert stats["customers_by_store_dp"]["results"]
    assert _agent(tmp_path, "keygen", "--out", "agent").returncode == 0
    done = _agent(tmp_path, "bundle", "--key", "agent.pem")
    assert done.returncode == 0, done.stderr
    done = _agent(tmp_path, "review", "bundle.tar.gz", "--trust", "agent.pub")
    assert done.returncode == 0, done.stderr
    role = url.split("//", 1)[1].split("@", 1)[0]
    assert f"Source role: {role} (reads only)" in (tmp_path / "review.md").read_text()
    assert _pagila_counts(pagila_url) == before


# ------------------------------------------------------------------ tables it may not read


def test_pg_table_the_role_may_not_read(pg_url: str, pg_role: RoleFactory,
                                        tmp_path: Path) -> None:
    _exec(pg_url, "CREATE TABLE open_t (id integer PRIMARY KEY)",
          "CREATE TABLE secret (id integer PRIMARY KEY, code text)")
    database = _database(pg_url)
    url = pg_role(pg_url, f'GRANT CONNECT ON DATABASE "{database}" TO {{role}}',
                  "GRANT USAGE ON SCHEMA public TO {role}", "GRANT SELECT ON open_t TO {role}")
    role = url.split("//", 1)[1].split("@", 1)[0]
    grant = f"GRANT SELECT ON public.secret TO {role}"
    done = _agent(tmp_path, "make-tables", "--dsn", url)
    assert done.returncode == 0 and done.stderr.startswith("warning: ")
    assert "may not read table public.secret" in done.stderr and grant in done.stderr
    line = _one_error_line(_agent(tmp_path, "generate-config", "--dsn", url))
    assert "may not read table public.secret" in line and grant in line, line
    assert not (tmp_path / "config.yaml").exists()
    done = _agent(tmp_path, "generate-config", "--dsn", url, "--ignore", "secret")
    assert done.returncode == 0, done.stderr
    (tmp_path / "config.yaml").write_text(
        "tables: {secret: {vocabulary_table: true}}\n"
        "src-stats:\n- {name: codes, query: 'SELECT code, count(*) AS n FROM secret GROUP BY "
        "code'}\n")
    for command in ("make-stats", "make-vocab"):
        line = _one_error_line(_agent(tmp_path, command, "--dsn", url))
        assert "may not read table public.secret" in line and grant in line, (command, line)
    assert not (tmp_path / "src-stats.yaml").exists() and not list(tmp_path.glob("vocab/*"))


def test_mariadb_table_the_user_may_not_read(maria_url: str, maria_user: RoleFactory,
                                             tmp_path: Path) -> None:
    _exec(maria_url, "CREATE TABLE open_t (id integer PRIMARY KEY)",
          "CREATE TABLE secret (id integer PRIMARY KEY, code text)")
    db = _database(maria_url)
    url = maria_user(maria_url, f"GRANT SELECT ON `{db}`.`open_t` TO {{user}}",
                     f"GRANT SELECT (id) ON `{db}`.`secret` TO {{user}}")
    line = _one_error_line(_agent(tmp_path, "generate-config", "--dsn", url))
    assert f"may not read table {db}.secret" in line and "GRANT SELECT ON" in line, line
    (tmp_path / "config.yaml").write_text(
        "src-stats:\n- {name: codes, query: 'SELECT code, count(*) AS n FROM secret GROUP BY "
        "code'}\n")
    line = _one_error_line(_agent(tmp_path, "make-stats", "--dsn", url))
    assert "may not read table" in line and "secret" in line and "GRANT SELECT ON" in line


# ------------------------------------------------------------------ timeouts that hold


def _big_table(url: str) -> None:
    _exec(url, "CREATE TABLE big (id integer PRIMARY KEY)")
    values = ", ".join(f"({i})" for i in range(BIG_ROWS))
    _exec(url, f"INSERT INTO big VALUES {values}")


def _heavy(alias: str) -> str:
    return f"SELECT count(*) AS {alias} FROM big a, big b, big c"


def _stats_config(tmp_path: Path, *queries: str, asyncio: bool = False) -> None:
    stats = [{"name": f"q{i}", "query": q} for i, q in enumerate(queries)]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"use-asyncio": asyncio, "src-stats": stats}))


LIFT = "SELECT set_config('statement_timeout', '0', false) AS lifted"
HEAVY = "SELECT count(*) AS total FROM big a, big b, big c"


@pytest.mark.parametrize("queries", [
    [LIFT, HEAVY],
    ["SET LOCAL statement_timeout = 0", HEAVY],
    ["SET statement_timeout = 0", HEAVY],
    [f"{HEAVY} WHERE (SELECT set_config('statement_timeout', '0', false)) = '0'"],
], ids=["set_config-before", "set-local-before", "set-before", "set_config-inside"])
def test_pg_a_query_cannot_lift_the_statement_timeout(pg_url: str, tmp_path: Path,
                                                      queries: list[str]) -> None:
    _big_table(pg_url)
    _stats_config(tmp_path, *queries)
    done = _agent(tmp_path, "make-stats", "--dsn", pg_url, "--timeout", "1", allow=True)
    assert done.returncode == 1, done.stderr
    # refused before it runs, or run on a session of its own that is thrown away; either
    # way the heavy query still meets the timeout
    assert any(word in done.stderr for word in ("statement timeout of 1 s", "refused",
                                                "returns no rows")), done.stderr
    assert not (tmp_path / "src-stats.yaml").exists()
    _stats_config(tmp_path, HEAVY)
    done = _agent(tmp_path, "make-stats", "--dsn", pg_url, "--timeout", "1", allow=True)
    assert "ran past the statement timeout of 1 s" in done.stderr, done.stderr


def test_mariadb_statement_timeout_holds_for_a_long_select(maria_url: str,
                                                           tmp_path: Path) -> None:
    _big_table(maria_url)
    _stats_config(tmp_path, HEAVY)
    done = _agent(tmp_path, "make-stats", "--dsn", maria_url, "--timeout", "1", allow=True)
    assert done.returncode == 1, done.stderr
    line = done.stderr.strip().splitlines()[-1]  # after the warning about root
    assert "ran past the statement timeout of 1 s" in line, line
    assert not (tmp_path / "src-stats.yaml").exists()


# ------------------------------------------------------------------ Ctrl-C / SIGTERM


def _running(url: str, marker: str) -> int:
    if url.startswith("postgresql"):
        # make-stats streams results through a server-side cursor: while the query runs,
        # pg_stat_activity shows the FETCH of that cursor, not the SELECT
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
               "AND datname = current_database() AND state = 'active' "
               f"AND (query LIKE '%{marker}%' OR query LIKE 'FETCH %')")
    else:
        sql = ("SELECT count(*) FROM information_schema.processlist WHERE id <> "
               f"connection_id() AND info LIKE '%{marker}%'")
    return _scalar(url, sql)


def _stop_queries(url: str, marker: str) -> None:
    """Clean-up after a failed cancel: end the query so the database can be dropped."""
    if url.startswith("postgresql"):
        _exec(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
                   f"pg_backend_pid() AND query LIKE '%{marker}%'")
        return
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        ids = conn.exec_driver_sql("SELECT id FROM information_schema.processlist WHERE "
                                   f"info LIKE '%%{marker}%%' AND id <> connection_id()")
        for (thread,) in list(ids):
            conn.exec_driver_sql(f"KILL QUERY {int(thread)}")
    engine.dispose()


@pytest.mark.parametrize("asyncio", [False, True], ids=["serial", "use-asyncio"])
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_a_stopped_make_stats_cancels_its_query_on_the_server(
        request: pytest.FixtureRequest, tmp_path: Path, dialect: str, how: int,
        asyncio: bool) -> None:
    url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "maria_url")
    _big_table(url)
    marker = f"running_{uuid.uuid4().hex[:12]}"
    queries = [_heavy(marker), _heavy(f"{marker}_2")] if asyncio else [_heavy(marker)]
    _stats_config(tmp_path, *queries, asyncio=asyncio)
    run = subprocess.Popen([str(AGENT), "make-stats", "--dsn", url, "--timeout", "3000"],
                           cwd=tmp_path, env=_env(tmp_path, True), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            if _running(url, marker) >= len(queries) or run.poll() is not None:
                break
            time.sleep(0.05)
        assert _running(url, marker) >= len(queries), "the query never started"
        os.kill(run.pid, how)
        for _ in range(CANCEL_POLLS):
            if _running(url, marker) == 0:
                break
            time.sleep(0.05)
        assert _running(url, marker) == 0, "the query kept running on the server"
    finally:
        if _running(url, marker):
            run.kill()
            _stop_queries(url, marker)
    out, err = run.communicate()
    assert run.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err, err
    assert not (tmp_path / "src-stats.yaml").exists()


def test_show_grants_lines_are_read_deny_by_default() -> None:
    from synthgate_agent.roles import mysql_granted_roles, mysql_powers

    lines = ["GRANT USAGE ON *.* TO `r`@`%`", "GRANT SELECT, SHOW VIEW ON `db`.* TO `r`@`%`",
             "GRANT SELECT (a, b), INSERT (c) ON `db`.`t` TO `r`@`%`",
             "GRANT LOCK TABLES ON `db`.* TO `r`@`%`",
             "GRANT SELECT ON *.* TO `r`@`%` WITH GRANT OPTION",
             "GRANT `writer`, `x``y` TO `r`@`%`"]
    assert mysql_powers(lines) == ["has INSERT on db.t", "has LOCK TABLES on db.*",
                                   "has GRANT OPTION (grants its privileges to others) on *.*"]
    assert mysql_granted_roles(lines) == ["writer", "x`y"]
    assert mysql_powers(["GRANT SELECT ON `db`.* TO `r`@`%`"]) == []


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_a_stopped_make_vocab_cancels_its_query_on_the_server(
        request: pytest.FixtureRequest, tmp_path: Path, dialect: str) -> None:
    url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "maria_url")
    table = f"vocab_{uuid.uuid4().hex[:12]}"
    _exec(url, f"CREATE TABLE {table} (id integer PRIMARY KEY, label varchar(20))",
          f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
    assert _agent(tmp_path, "make-tables", "--dsn", url, allow=True).returncode == 0
    (tmp_path / "config.yaml").write_text(f"tables: {{{table}: {{vocabulary_table: true}}}}\n")
    # a lock held by another session keeps the export's read waiting on the server
    locker = sa.create_engine(url, isolation_level="AUTOCOMMIT").connect()
    if dialect == "postgresql":
        locker.exec_driver_sql("BEGIN")
        locker.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    else:
        locker.exec_driver_sql(f"LOCK TABLES {table} WRITE")
    run = subprocess.Popen([str(AGENT), "make-vocab", "--dsn", url], cwd=tmp_path,
                           env=_env(tmp_path, True), text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            if _running(url, table) or run.poll() is not None:
                break
            time.sleep(0.05)
        assert _running(url, table), "the export never reached the table"
        os.kill(run.pid, signal.SIGINT)
        for _ in range(CANCEL_POLLS):
            if _running(url, table) == 0:
                break
            time.sleep(0.05)
        assert _running(url, table) == 0, "the export's query kept waiting on the server"
    finally:
        locker.exec_driver_sql("ROLLBACK" if dialect == "postgresql" else "UNLOCK TABLES")
        locker.close()
    out, err = run.communicate()
    assert run.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err, err
    assert not list(tmp_path.glob("vocab/*"))
