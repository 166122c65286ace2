"""Read-only access to the source database, with a statement timeout on every dialect.

This is the only module of the agent that opens connections to the source. Every
connection it hands out is read only at the database level (not by convention):
PostgreSQL ``default_transaction_read_only``, MariaDB/MySQL ``SET SESSION TRANSACTION
READ ONLY``, SQLite ``mode=ro``, DuckDB ``access_mode=read_only``. PostgreSQL sessions
also get ``WORK_MEM`` for their sorts and no JIT compilation.

At connect, the role is checked (``roles``): one that may do more than read is refused
unless allowed. While a connection is in use it is registered, so that SIGINT/SIGTERM
cancel its statement on the server (PostgreSQL cancel request, MariaDB/MySQL
``KILL QUERY`` from a second session, SQLite ``interrupt``) instead of leaving it running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from synthgate_shared.db import (
    check_connection,
    connection_error,
    create_engine_for,
    mask_dsn,
    parse_dsn,
)
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import SourceFingerprint

from synthgate_agent.roles import (
    RoleCheck,
    allowed_by_env,
    enforce_role,
    inspect_role,
    permission_error,
    unreadable_error,
    unreadable_tables,
)

DEFAULT_TIMEOUT_S = 300.0
# Sort and hash memory per operation of a PostgreSQL source session: the default 4MB sends
# the sorts of quantiles and the hash tables of GROUP BYs over large tables to disk.
WORK_MEM = "64MB"


@dataclasses.dataclass(frozen=True)
class Source:
    """A source database: its read-only engine and the schema to read (None: the default)."""

    engine: Engine
    schema: str | None
    timeout_s: float
    role: RoleCheck | None = None

    @property
    def dialect(self) -> str:
        """``postgresql``, ``mysql``/``mariadb`` or ``sqlite``."""
        return self.engine.dialect.name


def _sqlite_read_only(url: URL) -> URL:
    database = url.database or ""
    if database in ("", ":memory:"):
        raise SynthgateError("an in-memory SQLite database cannot be a source",
                             fix="give the path of a SQLite file")
    query = dict(url.query)
    query.update({"mode": "ro", "uri": "true"})
    return url.set(database=f"file:{database}", query=query)


def _duckdb_file(url: URL) -> None:
    """Refuse an in-memory DuckDB database, or a file that is not there, as a source."""
    database = url.database or ""
    if database in ("", ":memory:"):
        raise SynthgateError("an in-memory DuckDB database cannot be a source",
                             fix="give the path of a DuckDB file, or use --csv-dir/--parquet-dir")
    if not Path(database).is_file():
        raise SynthgateError(f"DuckDB file {database!r} does not exist",
                             where="SRC_DSN", fix="check the path after duckdb:///")


def _install_sqlite_timeout(engine: Engine, timeout_s: float) -> None:
    """SQLite has no statement timeout: abort statements from a progress handler instead."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        started = [time.monotonic()]

        def handler() -> int:
            return 1 if time.monotonic() - started[0] > timeout_s else 0

        dbapi_conn.set_progress_handler(handler, 10_000)
        dbapi_conn.execute("PRAGMA query_only = ON")
        # reset the clock at each statement
        dbapi_conn.set_trace_callback(lambda _sql: started.__setitem__(0, time.monotonic()))


def _install_duckdb_timeout(engine: Engine, timeout_s: float) -> None:
    """DuckDB has no statement timeout: a timer interrupts a statement that runs past it."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Connection, *_args: Any) -> None:
        raw: Any = conn.connection.dbapi_connection
        timer = threading.Timer(timeout_s, raw.interrupt)
        timer.daemon = True
        timer.start()
        conn.info["synthgate_timer"] = timer

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _stop(conn: Connection, *_args: Any) -> None:
        conn.info.pop("synthgate_timer").cancel()

    @sa.event.listens_for(engine, "handle_error")
    def _stop_on_error(context: Any) -> None:
        if context.connection is not None and "synthgate_timer" in context.connection.info:
            context.connection.info.pop("synthgate_timer").cancel()


def _install_mysql_session(engine: Engine, timeout_s: float) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        try:  # MariaDB: seconds, every statement
            cursor.execute(f"SET SESSION max_statement_time = {float(timeout_s)}")
        except Exception:  # MySQL proper: milliseconds, SELECT only
            cursor.execute(f"SET SESSION max_execution_time = {int(timeout_s * 1000)}")
        cursor.close()


def open_source(dsn: str, schema: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                allow_privileged: bool | None = None) -> Source:
    """Create a read-only engine for ``dsn`` and check that it connects (masked DSN on error).

    A role that may do more than read is refused unless ``allow_privileged`` (None: the
    ``SYNTHGATE_ALLOW_PRIVILEGED_ROLE`` environment variable decides); when allowed, a
    warning line says what it may do.
    """
    url = parse_dsn(dsn, "SRC_DSN")
    kwargs: dict[str, Any] = {}
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = _sqlite_read_only(url)
    elif backend == "postgresql":
        millis = int(timeout_s * 1000)
        # jit=off: compiling a query costs every process of a parallel scan tens of
        # milliseconds, and it made the proposed aggregates no faster over 5M or 10M rows
        kwargs["connect_args"] = {
            "options": f"-c default_transaction_read_only=on -c statement_timeout={millis} "
                       f"-c work_mem={WORK_MEM} -c jit=off",
            "connect_timeout": 10,
        }
    elif backend in ("mysql", "mariadb"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    elif backend == "duckdb":
        kwargs["connect_args"] = {"read_only": True, "config": {"access_mode": "read_only"}}
        _duckdb_file(url)
    engine = create_engine_for(url, **kwargs)
    if backend == "sqlite":
        _install_sqlite_timeout(engine, timeout_s)
    elif backend in ("mysql", "mariadb"):
        _install_mysql_session(engine, timeout_s)
    elif backend == "duckdb":
        _install_duckdb_timeout(engine, timeout_s)
    check_connection(engine)
    with engine.connect() as conn:
        role = inspect_role(conn)
    enforce_role(role, allowed_by_env() if allow_privileged is None else allow_privileged,
                 mask_dsn(url.set(drivername=backend)))
    _cancel_on_signal()
    return Source(engine=engine, schema=schema, timeout_s=timeout_s, role=role)


# Statements running now (id -> how to cancel it), cancelled all at once on SIGINT/SIGTERM.
_RUNNING: dict[int, Callable[[], None]] = {}
_RUNNING_LOCK = threading.Lock()
_WATCHING: list[socket.socket] = []


def _cancel_on_signal() -> None:
    """Start, once, a thread that cancels every running statement when SIGINT or SIGTERM
    arrives. A Python signal handler runs only when the main thread gets back from the
    driver, which a long query never does; the wakeup file descriptor is written by the C
    handler at once, whatever the main thread is blocked in."""
    if _WATCHING or threading.current_thread() is not threading.main_thread():
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    _WATCHING.extend((reader, writer))
    threading.Thread(target=_watch, args=(reader,), name="synthgate-cancel", daemon=True).start()


def _watch(reader: socket.socket) -> None:
    wanted = {signal.SIGINT.value, signal.SIGTERM.value}
    while data := reader.recv(64):
        if wanted & set(data):
            cancel_running()


def cancel_running() -> None:
    """Ask the server to stop every statement the agent's connections are running."""
    with _RUNNING_LOCK:
        cancels = list(_RUNNING.values())
    for cancel in cancels:
        with contextlib.suppress(Exception):  # a connection that ended meanwhile
            cancel()


def _canceller(source: Source, dbapi_conn: Any) -> Callable[[], None]:
    if source.dialect == "postgresql":
        return dbapi_conn.cancel
    if source.dialect in ("sqlite", "duckdb"):
        return dbapi_conn.interrupt
    thread_id = int(dbapi_conn.thread_id())

    def kill_query() -> None:
        killer = source.engine.raw_connection()
        try:
            cursor = killer.cursor()
            cursor.execute(f"KILL QUERY {thread_id}")
            cursor.close()
        finally:
            killer.invalidate()

    return kill_query


@contextlib.contextmanager
def _cancellable(source: Source, conn: Connection) -> Iterator[Callable[[], None]]:
    """Register ``conn`` for cancel on a signal while inside; yields its canceller."""
    key = id(conn)
    cancel = _canceller(source, conn.connection.dbapi_connection)
    with _RUNNING_LOCK:
        _RUNNING[key] = cancel
    try:
        yield cancel
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(key, None)


@contextlib.contextmanager
def read_only(source: Source) -> Iterator[Connection]:
    """A connection inside a read-only transaction, always rolled back at the end.

    MariaDB/MySQL sessions are read only from the connect hook; PostgreSQL gets
    ``SET TRANSACTION READ ONLY`` on top of its read-only session default.
    """
    try:
        conn = source.engine.connect()
    except DBAPIError as exc:
        raise connection_error(exc, source.engine.url) from None
    with conn, _cancellable(source, conn) as cancel:
        if source.dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        interrupted = False
        try:
            yield conn
        except BaseException as exc:
            interrupted = not isinstance(exc, Exception)
            raise
        finally:
            if interrupted:
                # A signal handler can interrupt a pure-Python driver (PyMySQL) mid-statement:
                # stop the statement on the server now, and never reuse the half-read session.
                with contextlib.suppress(Exception):
                    cancel()
                conn.invalidate()
            else:
                conn.rollback()


def check_readable(source: Source, tables: list[str], *, refuse: bool = True) -> None:
    """Refuse (or, with ``refuse=False``, print a warning line) when the role may not read
    one of ``tables``, naming the first and the GRANT it needs."""
    with read_only(source) as conn:
        schema, denied, usage = unreadable_tables(conn, source.schema, tables)
        if not denied:
            return
        role = source.role.name if source.role else None
        error = unreadable_error(conn.dialect, role, schema, denied, "source database", usage)
    if refuse:
        raise error
    print(f"warning: {error.one_line()}", file=sys.stderr)


def role_of(source: Source, fingerprint: SourceFingerprint) -> SourceFingerprint:
    """``fingerprint`` with the role the agent read the source as (SQLite: unchanged)."""
    if source.role is None:
        return fingerprint
    return dataclasses.replace(fingerprint, role=source.role.name,
                               privileged_role=source.role.privileged)


@contextlib.contextmanager
def explain_denied(source: Source) -> Iterator[None]:
    """Turn a permission error of the statements inside (reflection: MariaDB refuses
    ``SHOW CREATE TABLE`` on a table not wholly readable) into the line that names the
    table and the GRANT it needs."""
    try:
        yield
    except DBAPIError as exc:
        denied = permission_error(exc, source.engine.dialect,
                                  source.role.name if source.role else None, source.schema,
                                  "source database")
        if denied is None:
            raise
        raise denied from None
