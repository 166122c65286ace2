"""Issue 12, builder half: SQL text in a validly signed orm.yaml is never sent as text.

Checks, domain checks and defaults must parse as one pure expression and are re-rendered
from the parse tree; anything else stops create-tables with one line naming the table and
column (or check), before any table exists. Real PostgreSQL, MariaDB and SQLite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sec_builder_bundles import Builder, make_builder

MARKER = Path(f"/tmp/synthgate-owned-{uuid.uuid4().hex}.txt")
COPY_PAYLOAD = f"true)); COPY (SELECT 1) TO PROGRAM 'id > {MARKER}'; SELECT ((1"
PAYLOADS = [
    COPY_PAYLOAD,
    "1 = 1; DROP TABLE victim",
    f"(SELECT count(*) FROM pg_read_file('{MARKER}')) > 0",
    "pg_read_file('/etc/passwd') <> ''",
    "x IN (SELECT 1)",
    "pg_catalog.pg_sleep(1) IS NULL",
    "x > 0 /* */ ; DROP TABLE victim; /* */",
]
DIALECTS = ["postgresql", "mysql", "sqlite"]


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Iterator[Builder]:
    yield make_builder(tmp_path, monkeypatch, capsys)
    assert not MARKER.exists()
    assert not (tmp_path / "owned.txt").exists()


@pytest.fixture(params=DIALECTS)
def dst(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A destination URL of each database family."""
    name = {"postgresql": "pg_url", "mysql": "maria_url"}.get(request.param)
    return str(request.getfixturevalue(name)) if name else f"sqlite:///{tmp_path}/dst.db"


def _family(url: str) -> str:
    return sa.make_url(url).get_backend_name().replace("mariadb", "mysql")


def _orm(dialect: str, *, check: str | None = None, default: str | None = None,
         domain: dict[str, Any] | None = None, enum: list[str] | None = None) -> dict[str, Any]:
    column: dict[str, Any] = {"name": "x", "type": "enum:e" if enum else "integer"}
    if default is not None:
        column["default"] = default
    if domain is not None:
        column["domain"] = "d"
    table: dict[str, Any] = {"columns": [
        {"name": "id", "type": "integer", "nullable": False}, column], "primary_key": ["id"]}
    if check is not None:
        table["checks"] = [{"name": "t_x_check", "sqltext": check}]
    return {"synthgate-orm": 1, "source": {"dialect": dialect, "table_count": 1},
            "enums": {"e": enum} if enum else {}, "domains": {"d": domain} if domain else {},
            "tables": {"t": table}}


def _refused(builder: Builder, url: str, orm: dict[str, Any], *needles: str) -> None:
    bundle = builder.bundle({}, orm)
    code, err = builder.run("create-tables", "--dsn", url, bundle=bundle)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    engine = sa.create_engine(url)
    try:
        assert not sa.inspect(engine).has_table("t")
    finally:
        engine.dispose()
    assert not MARKER.exists()


@pytest.mark.postgres
@pytest.mark.mariadb
def test_check_injection_is_refused(builder: Builder, dst: str) -> None:
    for payload in PAYLOADS:
        for source in {_family(dst), "postgresql"}:  # same dialect (was verbatim) and across
            _refused(builder, dst, _orm(source, check=payload),
                     "orm.yaml: table t, check t_x_check", "not")


@pytest.mark.postgres
@pytest.mark.mariadb
def test_default_injection_is_refused(builder: Builder, dst: str) -> None:
    for payload in PAYLOADS:
        for source in {_family(dst), "postgresql"}:
            _refused(builder, dst, _orm(source, default=payload),
                     "orm.yaml: table t, column x", "default")


@pytest.mark.postgres
@pytest.mark.mariadb
def test_domain_check_and_default_injection_is_refused(builder: Builder, dst: str) -> None:
    where = "orm.yaml: table t, column x, domain d"
    for payload in PAYLOADS:
        _refused(builder, dst, _orm("postgresql", domain={"type": "integer",
                                                          "checks": [payload]}),
                 where, "domain check")
        if _family(dst) == "postgresql":  # elsewhere a domain's default is the column's
            _refused(builder, dst, _orm("postgresql", domain={"type": "integer",
                                                              "default": payload}),
                     where, "default")


@pytest.mark.postgres
def test_the_issue_payload_names_what_it_uses(builder: Builder, pg_url: str) -> None:
    _refused(builder, pg_url, _orm("postgresql", check="pg_read_file('/etc/passwd') <> ''"),
             "uses function pg_read_file()")
    _refused(builder, pg_url, _orm("postgresql", check="x IN (SELECT 1)"), "uses a subquery")
    _refused(builder, pg_url, _orm("postgresql", check="x > 0; SELECT 1"), "2 statements")
    _refused(builder, pg_url, _orm("postgresql", check=COPY_PAYLOAD), "is not one SQL expression")


@pytest.mark.postgres
@pytest.mark.mariadb
def test_pure_expressions_still_create(builder: Builder, dst: str) -> None:
    orm = _orm(_family(dst), check="x >= 0 AND abs(x) < 1000", default="1")
    orm["tables"]["t"]["columns"].append({"name": "s", "type": "varchar(20)",
                                          "default": "'it''s'"})
    orm["tables"]["t"]["checks"].append({"name": "t_s_check", "sqltext": "length(s) > 0"})
    code, err = builder.run("create-tables", "--dsn", dst, bundle=builder.bundle({}, orm))
    assert code == 0, err
    engine = sa.create_engine(dst)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t (id) VALUES (1)"))
            assert conn.execute(sa.text("SELECT x, s FROM t")).one() == (1, "it's")
            with pytest.raises(sa.exc.DBAPIError):
                conn.execute(sa.text("INSERT INTO t (id, x) VALUES (2, -1)"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_comments_are_not_carried_into_the_sql(builder: Builder, pg_url: str) -> None:
    orm = _orm("postgresql", check="x > 0 -- */ ; DROP TABLE victim")
    code, err = builder.run("create-tables", "--dsn", pg_url, bundle=builder.bundle({}, orm))
    assert code == 0, err
    engine = sa.create_engine(pg_url)
    try:
        [check] = sa.inspect(engine).get_check_constraints("t")
    finally:
        engine.dispose()
    assert check["sqltext"] == "x > 0"


@pytest.mark.postgres
@pytest.mark.mariadb
def test_enum_labels_are_quoted_by_sqlalchemy(builder: Builder, dst: str) -> None:
    labels = ["a'); DROP TABLE t; --", 'b"', "c\\'"]
    code, err = builder.run("create-tables", "--dsn", dst,
                            bundle=builder.bundle({}, _orm(_family(dst), enum=labels)))
    assert code == 0, err
    engine = sa.create_engine(dst)
    try:
        with engine.begin() as conn:
            for i, label in enumerate(labels):
                conn.execute(sa.text("INSERT INTO t (id, x) VALUES (:i, :x)"),
                             {"i": i, "x": label})
            got = conn.execute(sa.text("SELECT x FROM t ORDER BY id")).scalars().all()
    finally:
        engine.dispose()
    assert got == labels
