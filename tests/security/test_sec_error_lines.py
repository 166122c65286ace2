"""Issue 12, "Secrets" and "Error lines": every case is one line naming what and where,
a non-zero exit and no traceback (without --verbose); passwords given as URL query
parameters never appear; a run killed with SIGKILL leaves nothing the next run keeps."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN, ROOT

AGENT = ROOT / ".venv" / "bin" / "synthgate-agent"
BUILDER = ROOT / ".venv" / "bin" / "synthgate-builder"
SECRET = "s3cret-9f2c41"

ORM = """\
synthgate-orm: 1
source: {dialect: postgresql, schema: public, table_count: 2}
tables:
  parent:
    columns:
    - {name: id, type: integer, nullable: false}
    - {name: label, type: varchar(30), nullable: false}
    primary_key: [id]
  child:
    columns:
    - {name: id, type: integer, nullable: false}
    - {name: parent_id, type: integer, nullable: false}
    primary_key: [id]
    foreign_keys:
    - {columns: [parent_id], ref_table: parent, ref_columns: [id]}
"""
CONFIG = "tables:\n  parent: {num_rows_per_pass: 1000}\n  child: {num_rows_per_pass: 3000}\n"


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    (cwd / "tmp").mkdir(exist_ok=True)
    # the test servers' roles are superusers: accepted here, refused in test_sec_agent_role.py
    return {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "TMPDIR": str(cwd / "tmp"),
            "SYNTHGATE_ALLOW_PRIVILEGED_ROLE": "1", **extra}


def _run(program: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program), *args], cwd=cwd, env=_env(cwd), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, check=False)


def _one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 1 or 2 (an option error), one line on stderr holding every ``expected`` text,
    no traceback, no 'unexpected error', no secret."""
    assert result.returncode in (1, 2), (result.stdout, result.stderr)
    # warning lines (the accepted superuser role of the test servers) may come before it
    lines = [line for line in result.stderr.strip().splitlines()
             if not line.startswith("warning: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert SECRET not in result.stderr + result.stdout
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """config, orm, stats, keys and a signed bundle in a folder, and a folder ``dir``."""
    (tmp_path / "orm.yaml").write_text(ORM)
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "src-stats.yaml").write_text("{}\n")
    (tmp_path / "vocab").mkdir()
    (tmp_path / "dir").mkdir()
    for args in (("keygen", "--out", "agent"),
                 ("bundle", "--key", "agent.pem")):
        result = _run(AGENT, *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    return tmp_path


# ---------------------------------------------------------------------------- numbers, URLs


@pytest.mark.parametrize("program", [AGENT, BUILDER])
@pytest.mark.parametrize(("dsn", "expected"), [
    (f"postgresql://postgres:{SECRET}@127.0.0.1:abc/x", "the port is not a number"),
    (f"mssql+pyodbc://u:{SECRET}@h/x?pwd={SECRET}", "unsupported database type 'mssql+pyodbc'"),
])
def test_bad_url_is_one_line(work: Path, program: Path, dsn: str, expected: str) -> None:
    command = "make-tables" if program == AGENT else "create-tables"
    args = ("--force",) if program == AGENT else ()
    _one_line(_run(program, command, "--dsn", dsn, *args, cwd=work), expected)


@pytest.mark.parametrize("program", [AGENT, BUILDER])
@pytest.mark.parametrize("parameter", ["password", "passwd", "pwd", "sslpassword"])
def test_query_parameter_password_is_masked_in_error_lines(
        work: Path, program: Path, parameter: str) -> None:
    dsn = f"postgresql://nobody_{uuid.uuid4().hex[:6]}@127.0.0.1:5432/nodb?{parameter}={SECRET}"
    command = ("make-tables", "--force") if program == AGENT else ("create-tables",)
    line = _one_line(_run(program, *command, "--dsn", dsn, cwd=work), "cannot connect")
    assert f"{parameter}=***" in line


def test_query_parameter_password_is_masked_in_create_data_summary(
        work: Path, pg_url: str) -> None:
    dsn = f"{pg_url}?password={SECRET}"
    assert _run(BUILDER, "create-tables", "--dsn", dsn, cwd=work).returncode == 0
    assert _run(BUILDER, "create-generators", cwd=work).returncode == 0
    result = _run(BUILDER, "create-data", "--dsn", dsn, cwd=work)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "password=***" in result.stdout


@pytest.mark.parametrize(("program", "args", "option"), [
    (AGENT, ("make-tables", "--timeout", "inf"), "--timeout"),
    (AGENT, ("make-stats", "--timeout", "nan"), "--timeout"),
    (AGENT, ("make-vocab", "--timeout", "-1"), "--timeout"),
    (BUILDER, ("create-data", "--scale", "inf"), "--scale"),
    (BUILDER, ("create-data", "--scale", "nan"), "--scale"),
    (BUILDER, ("create-data", "--scale", "-1"), "--scale"),
    (BUILDER, ("create-data", "--scale", "0"), "--scale"),
    (BUILDER, ("report", "--scale", "inf"), "--scale"),
    (BUILDER, ("create-data", "--num-passes", "-1"), "--num-passes"),
    (BUILDER, ("create-vocab", "--max-vocab-size", "lots"), "--max-vocab-size"),
])
def test_bad_number_is_one_line(work: Path, program: Path, args: tuple[str, ...],
                                option: str) -> None:
    _one_line(_run(program, *args, cwd=work), f"Invalid value for '{option}'")


# ---------------------------------------------------------------------------- folders


@pytest.mark.parametrize(("program", "args"), [
    (AGENT, ("make-tables", "--orm-file", "dir", "--force")),
    (AGENT, ("generate-config", "--config-file", "dir", "--force")),
    (AGENT, ("generate-config", "--bounds-from", "dir", "--force")),
    (AGENT, ("make-stats", "--config-file", "dir")),
    (AGENT, ("make-stats", "--stats-file", "dir", "--force")),
    (AGENT, ("make-vocab", "--config-file", "dir")),
    (AGENT, ("make-vocab", "--orm-file", "dir")),
    (AGENT, ("bundle", "--key", "dir", "--force")),
    (AGENT, ("bundle", "--key", "agent.pem", "--config-file", "dir", "--force")),
    (AGENT, ("bundle", "--key", "agent.pem", "--orm-file", "dir", "--force")),
    (AGENT, ("bundle", "--key", "agent.pem", "--stats-file", "dir", "--force")),
    (AGENT, ("bundle", "--key", "agent.pem", "--out", "dir", "--force")),
    (AGENT, ("review", "dir", "--trust", "agent.pub")),
    (AGENT, ("review", "bundle.tar.gz", "--trust", "dir")),
    (AGENT, ("approve", "dir", "--key", "agent.pem")),
    (AGENT, ("approve", "bundle.tar.gz", "--key", "dir")),
    (BUILDER, ("verify", "dir", "--trust", "agent.pub")),
    (BUILDER, ("verify", "bundle.tar.gz", "--trust", "dir")),
    (BUILDER, ("verify", "bundle.tar.gz", "--trust", "agent.pub", "--require-approval", "dir")),
    (BUILDER, ("create-tables", "--orm-file", "dir")),
    (BUILDER, ("create-tables", "--bundle", "dir", "--trust", "agent.pub")),
    (BUILDER, ("create-generators", "--config-file", "dir")),
    (BUILDER, ("create-generators", "--stats-file", "dir")),
    (BUILDER, ("create-generators", "--out", "dir", "--force")),
    (BUILDER, ("create-data", "--ssg-file", "dir")),
    (BUILDER, ("report", "--config-file", "dir")),
])
def test_folder_where_a_file_is_expected_is_one_line(work: Path, pg_url: str, program: Path,
                                                     args: tuple[str, ...]) -> None:
    variable = "SRC_DSN" if program == AGENT else "DST_DSN"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:  # a source with a table, for the agent's commands
        conn.exec_driver_sql("CREATE TABLE parent (id integer PRIMARY KEY, label text)")
    engine.dispose()
    result = subprocess.run([str(program), *args], cwd=work, env=_env(work, **{variable: pg_url}),
                            capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            check=False)
    _one_line(result, "dir")
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
    assert list((work / "dir").iterdir()) == []


# ---------------------------------------------------------------------------- lost connection


@pytest.fixture
def admin() -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _children(dsn: str) -> int:
    engine = sa.create_engine(dsn)
    with engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM child").scalar_one()
    engine.dispose()
    return int(count)


def test_terminated_connection_during_create_data_is_one_line(
        work: Path, pg_url: str, admin: sa.Engine) -> None:
    assert _run(BUILDER, "create-tables", "--dsn", pg_url, cwd=work).returncode == 0
    assert _run(BUILDER, "create-generators", cwd=work).returncode == 0
    database = sa.make_url(pg_url).database
    run = subprocess.Popen([str(BUILDER), "create-data", "--num-passes", "1000"], cwd=work,
                           env=_env(work, DST_DSN=pg_url), text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    while _children(pg_url) < 6000:  # two passes committed
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %(d)s "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()", {"d": database})
    out, err = run.communicate()
    result = subprocess.CompletedProcess(run.args, run.returncode, out, err)
    line = _one_line(result, "the connection to the database was lost", "was rolled back",
                     "run create-data again")
    assert run.returncode == 1, line
    assert _children(pg_url) % 3000 == 0  # whole passes only


# ---------------------------------------------------------------------------- SIGKILL leftovers


def _hidden_temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_sigkill_leaves_temp_files_the_next_run_removes(work: Path, pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE word (n integer, w text)")
        conn.exec_driver_sql("INSERT INTO word SELECT g, md5(g::text) || md5((g + 1)::text) "
                             "FROM generate_series(1, 3000000) g")
    engine.dispose()
    (work / "config.yaml").write_text("tables:\n  word: {vocabulary_table: true}\n")
    env = _env(work, SRC_DSN=pg_url)
    assert subprocess.run([str(AGENT), "make-tables", "--force"], cwd=work, env=env,
                          capture_output=True, check=False).returncode == 0
    run = subprocess.Popen([str(AGENT), "make-vocab", "--compress"], cwd=work, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
    while not _hidden_temp_files(work / "vocab"):
        assert run.poll() is None, "make-vocab ended before it could be killed"
        time.sleep(0.01)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    left = _hidden_temp_files(work / "vocab")
    assert left and str(run.pid) in left[0].name  # what a kill -9 leaves: named by its PID
    # the next run (of any command writing there) removes it
    (work / "config.yaml").write_text("tables:\n  word: {vocabulary_table: true}\n")
    result = subprocess.run([str(AGENT), "make-vocab", "--compress"], cwd=work, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert _hidden_temp_files(work / "vocab") == []
    assert (work / "vocab" / "word.yaml.gz").is_file()


def test_sigkill_leaves_a_bundle_folder_the_next_run_removes(work: Path, pg_url: str) -> None:
    (work / "config.yaml").write_text("tables:\n  word: {vocabulary_table: true}\n")
    (work / "orm.yaml").write_text(
        "synthgate-orm: 1\nsource: {dialect: postgresql, schema: public, table_count: 1}\n"
        "tables:\n  word:\n    columns:\n    - {name: n, type: integer}\n")
    rows = b'- {"n":7}\n' * 4_000_000
    (work / "vocab" / "word.yaml").write_bytes(
        b"synthgate-vocab: 1\ntable: word\ncolumns:\n  n: integer\nrows:\n" + rows
        + b"row_count: 4000000\n")
    assert _run(AGENT, "bundle", "--key", "agent.pem", "--force", cwd=work).returncode == 0
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE word (n integer)")
    engine.dispose()
    args = ["--bundle", "bundle.tar.gz", "--trust", "agent.pub"]
    env = _env(work, DST_DSN=pg_url)
    run = subprocess.Popen([str(BUILDER), "create-vocab", *args], cwd=work, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
    tmp = work / "tmp"
    while not any((p / "vocab").exists() for p in tmp.iterdir()):
        assert run.poll() is None, "create-vocab ended before it could be killed"
        time.sleep(0.01)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert next(p.name for p in tmp.iterdir()).startswith(f"synthgate-bundle-{run.pid}-")
    result = subprocess.run([str(BUILDER), "create-tables", *args, "--dsn", "sqlite:///x.db"],
                            cwd=work, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert list(tmp.iterdir()) == []
