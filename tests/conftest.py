"""Fixtures for tests against real PostgreSQL, MariaDB and SQLite.

Every test gets its own database (dropped afterwards). The servers are started
when they are down (``scripts/ensure-services.sh``). Pagila is loaded once per
test session into its own PostgreSQL database and treated as read only.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PAGILA = DATA / "pagila"

PG_ADMIN = os.environ.get("SYNTHGATE_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
MARIA_ADMIN = os.environ.get("SYNTHGATE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


@pytest.fixture(scope="session", autouse=True)
def _servers() -> None:
    """Start the database servers when they are down (once per session)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-services.sh")], check=True,
                   capture_output=True)


@pytest.fixture(scope="session", autouse=True)
def _allow_privileged_role() -> Iterator[None]:
    """Tests connect as the superuser postgres and MariaDB root: let the agent accept them
    (CLI subprocesses inherit the variable); the role-check tests clear it."""
    previous = os.environ.get("SYNTHGATE_ALLOW_PRIVILEGED_ROLE")
    os.environ["SYNTHGATE_ALLOW_PRIVILEGED_ROLE"] = "1"
    yield
    if previous is None:
        os.environ.pop("SYNTHGATE_ALLOW_PRIVILEGED_ROLE", None)
    else:
        os.environ["SYNTHGATE_ALLOW_PRIVILEGED_ROLE"] = previous


def _new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _pg_create(name: str) -> str:
    admin = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return f"{PG_ADMIN}/{name}"


def _pg_drop(name: str) -> None:
    admin = sa.create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _maria_create(name: str) -> str:
    admin = sa.create_engine(f"{MARIA_ADMIN}/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    admin.dispose()
    return f"{MARIA_ADMIN}/{name}?charset=utf8mb4"


def _maria_drop(name: str) -> None:
    admin = sa.create_engine(f"{MARIA_ADMIN}/", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    name = _new_name("sgtest")
    url = _pg_create(name)
    yield url
    _pg_drop(name)


@pytest.fixture
def pg_url_factory() -> Iterator[Callable[[], str]]:
    """Make as many new PostgreSQL databases as a test needs; all are dropped after it."""
    names: list[str] = []

    def make() -> str:
        names.append(_new_name("sgtest"))
        return _pg_create(names[-1])

    yield make
    for name in names:
        _pg_drop(name)


@pytest.fixture
def maria_url() -> Iterator[str]:
    """URL of a new, empty MariaDB database, dropped after the test."""
    name = _new_name("sgtest")
    url = _maria_create(name)
    yield url
    _maria_drop(name)


@pytest.fixture
def maria_url_factory() -> Iterator[Callable[[], str]]:
    """Make as many new MariaDB databases as a test needs; all are dropped after it."""
    names: list[str] = []

    def make() -> str:
        names.append(_new_name("sgtest"))
        return _maria_create(names[-1])

    yield make
    for name in names:
        _maria_drop(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite database file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each kind in turn (the test runs three times)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'any.db'}"
        return
    create, drop = (_pg_create, _pg_drop) if request.param == "postgresql" else (
        _maria_create, _maria_drop)
    name = _new_name("sgtest")
    url = create(name)
    yield url
    drop(name)


@pytest.fixture(scope="session")
def pagila_url() -> Iterator[str]:
    """URL of a PostgreSQL database holding Pagila (loaded once per session; read only)."""
    name = _new_name("sgpagila")
    subprocess.run(["bash", str(PAGILA / "load.sh"), f"postgresql://postgres@127.0.0.1:5432/{name}"],
                   check=True, capture_output=True)
    yield f"{PG_ADMIN}/{name}"
    _pg_drop(name)
