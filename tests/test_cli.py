"""The two command lines as a user meets them: help everywhere, one-line errors, masked DSNs."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MARIA_ADMIN, ROOT
from synthgate_shared.config import load_config

AGENT = ROOT / ".venv" / "bin" / "synthgate-agent"
BUILDER = ROOT / ".venv" / "bin" / "synthgate-builder"
AGENT_COMMANDS = ["make-tables", "generate-config", "make-stats", "make-vocab", "keygen",
                  "bundle", "review", "approve"]
BUILDER_COMMANDS = ["verify", "review", "create-generators", "create-tables", "remove-tables",
                    "create-vocab", "remove-vocab", "create-data", "remove-data", "dump-data",
                    "report",
                    "validate-config"]


def run(program: Path, *args: str, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a CLI with no .env and no inherited DSNs."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd or ROOT)}
    return subprocess.run([str(program), *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, **(env or {})}, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize(("program", "command"),
                         [(AGENT, c) for c in AGENT_COMMANDS]
                         + [(BUILDER, c) for c in BUILDER_COMMANDS])
def test_every_command_has_help(program: Path, command: str, tmp_path: Path) -> None:
    result = run(program, command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("program", [AGENT, BUILDER])
def test_no_command_or_a_wrong_one_shows_help_and_fails(program: Path, tmp_path: Path) -> None:
    assert run(program, cwd=tmp_path).returncode != 0
    wrong = run(program, "make-everything", cwd=tmp_path)
    assert wrong.returncode != 0
    assert "No such command" in wrong.stderr


@pytest.fixture
def maria_user() -> Iterator[tuple[str, str]]:
    """A MariaDB user with a password and its own database; both removed afterwards."""
    name = f"sg_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{MARIA_ADMIN}/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        conn.exec_driver_sql(f"CREATE USER '{name}'@'%%' IDENTIFIED BY 'right-secret'")
        conn.exec_driver_sql(f"GRANT ALL ON `{name}`.* TO '{name}'@'%%'")
    yield name, name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP USER '{name}'@'%%'")
        conn.exec_driver_sql(f"DROP DATABASE `{name}`")
    admin.dispose()


def test_wrong_password_is_one_line_with_the_password_masked(
        maria_user: tuple[str, str], tmp_path: Path) -> None:
    user, database = maria_user
    dsn = f"mysql://{user}:wrong-secret@127.0.0.1:3306/{database}"
    for program, command in [(AGENT, "make-tables"), (BUILDER, "create-tables")]:
        orm = tmp_path / "orm.yaml"
        if program is BUILDER:
            orm.write_text("tables: {}\n")
        result = run(program, command, "--dsn", dsn, cwd=tmp_path)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "wrong-secret" not in result.stderr
        assert "***" in lines[0] and "password" in lines[0]
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "orm.yaml").read_text().strip().endswith("columns:")


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    result = run(AGENT, "make-tables", "--dsn", "postgresql://u:pw@127.0.0.1:1/x", "--verbose",
                 cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert ":pw@" not in result.stderr.split("Traceback")[-1].splitlines()[-1]


def test_env_file_supplies_the_dsn(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SRC_DSN=postgresql://u:pw@127.0.0.1:1/x\n")
    result = run(AGENT, "make-tables", cwd=tmp_path)
    assert result.returncode == 1
    assert "postgresql://u:***@127.0.0.1:1/x" in result.stderr


def test_validate_config_checks_without_writing(tmp_path: Path) -> None:
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as con:
        con.executescript(
            "CREATE TABLE person (id INTEGER PRIMARY KEY, first_name VARCHAR(20) NOT NULL);"
            + "".join(f"INSERT INTO person (first_name) VALUES ('p{i % 9}');" for i in range(60))
        )
    env = {"SRC_DSN": f"sqlite:///{source}"}
    for command in ("make-tables", "generate-config", "make-stats"):
        assert run(AGENT, command, cwd=tmp_path, env=env).returncode == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    ok = run(BUILDER, "validate-config", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "config is valid" in ok.stdout
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("generic.person.first_name",
                                                 "generic.person.frist_name"))
    bad = run(BUILDER, "validate-config", cwd=tmp_path)
    assert bad.returncode == 1
    assert "did you mean generic.person.first_name?" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_generate_config_marks_tables_and_can_stay_plain(tmp_path: Path) -> None:
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as con:
        con.executescript("CREATE TABLE country (id INTEGER PRIMARY KEY, name TEXT);"
                          "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, note TEXT);"
                          "CREATE TABLE person (id INTEGER PRIMARY KEY, age INTEGER,"
                          " country_id INTEGER REFERENCES country (id));")
    env = {"SRC_DSN": f"sqlite:///{source}"}
    marked = run(AGENT, "generate-config", "--vocabulary", "country", "--ignore", "audit_log",
                 cwd=tmp_path, env=env)
    assert marked.returncode == 0, marked.stderr
    config = load_config(tmp_path / "config.yaml")
    assert config.table("country").vocabulary_table and config.table("audit_log").ignore
    assert config.src_stats and not any("country__profile" in s.name for s in config.src_stats)
    assert config.use_asyncio  # the proposed statistics run concurrently
    # the src-stats list ends the file: a statistic appended to it (as make demo does) joins it
    with (tmp_path / "config.yaml").open("a", encoding="utf-8") as handle:
        handle.write("- name: people\n  query: SELECT count(*) AS n FROM person\n")
    appended = load_config(tmp_path / "config.yaml")
    assert appended.src_stats[-1].name == "people" and appended.use_asyncio
    plain = run(AGENT, "generate-config", "--plain", "--force", cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stderr
    config = load_config(tmp_path / "config.yaml")
    assert config.src_stats == [] and all(not t.row_generators for t in config.tables.values())
    assert not config.use_asyncio
    typo = run(AGENT, "generate-config", "--vocabulary", "contry", "--force", cwd=tmp_path,
               env=env)
    assert typo.returncode == 1
    assert "no table 'contry'" in typo.stderr and "did you mean 'country'?" in typo.stderr


HEAVY = {"sqlalchemy", "sqlglot", "pydantic", "yaml", "cryptography", "jinja2", "pandas",
         "snsql", "numpy", "mimesis"}
_LOADED = """
import sys
from synthgate_agent.cli import app
from synthgate_shared.cli import run_app
code = run_app(app, "synthgate-agent", sys.argv[1:])
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))), code)
"""


def _loaded_by(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The heavy libraries an agent command imports, run in a fresh interpreter."""
    code = f"HEAVY = {sorted(HEAVY)!r}\n{_LOADED}"
    result = run(ROOT / ".venv" / "bin" / "python", "-c", code, *args, cwd=cwd, env=env)
    *names, exit_code = result.stdout.strip().splitlines()[-1].split()
    assert exit_code == "0", result.stderr
    return names


def test_agent_commands_import_only_what_they_need(tmp_path: Path) -> None:
    """Start-up counts in every command's time (make-stats is measured in table scans)."""
    assert _loaded_by(["--help"], tmp_path) == []
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as con:
        con.executescript("CREATE TABLE person (id INTEGER PRIMARY KEY, kind_code INTEGER,"
                          " age INTEGER); INSERT INTO person VALUES (1, 1, 30), (2, 2, 40);")
    env = {"SRC_DSN": f"sqlite:///{source}"}
    assert run(AGENT, "generate-config", cwd=tmp_path, env=env).returncode == 0
    # plain statistics: no SmartNoise, pandas, signing or report libraries
    assert _loaded_by(["make-stats"], tmp_path, env) == ["pydantic", "sqlalchemy", "sqlglot",
                                                         "yaml"]


def test_database_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import typer
    from sqlalchemy.exc import OperationalError
    from synthgate_shared.cli import run_app

    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection\nmore"))

    assert run_app(app, "prog", []) == 1
    assert capsys.readouterr().err == ("prog: database error: server closed the connection "
                                       "(run with --verbose for details)\n")
