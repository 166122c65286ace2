"""Database URLs and engines: driver selection, password masking and readable connection errors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from synthgate_shared.errors import SynthgateError

_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|credential", re.IGNORECASE)
# Users write plain URLs (the SqlSynthGen tutorials do); pick the drivers we ship.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg2",
    "postgres": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def parse_dsn(dsn: str, what: str = "DSN") -> URL:
    """Parse a database URL and select the shipped driver for plain PostgreSQL/MySQL URLs."""
    if not dsn:
        raise SynthgateError(
            f"no {what} given", fix=f"set {what} in the environment or .env, or pass --dsn"
        )
    try:
        url = make_url(dsn)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        reason = " (the port is not a number)" if isinstance(exc, ValueError) else ""
        raise SynthgateError(
            f"cannot parse {what} as a database URL{reason}",
            fix="use a URL such as postgresql://user@host:5432/dbname, sqlite:///file.db or "
            "duckdb:///file.duckdb",
        ) from None
    driver = _DEFAULT_DRIVERS.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter holds a secret (``password``, ``passwd``, ``pwd``,
    ``sslpassword``, ``token``, ...)."""
    return bool(_SECRET_PARAMETER.search(name))


def mask_dsn(dsn: str | URL) -> str:
    """Render a DSN with its password, and every query parameter that holds a secret,
    replaced by ``***`` (never log a password)."""
    try:
        url = dsn if isinstance(dsn, URL) else make_url(dsn)
    except (ArgumentError, ValueError):
        return "<unparsable DSN>"
    text = url.render_as_string(hide_password=True)
    if not any(is_secret_parameter(k) for k in url.query):
        return text
    base, _, query = text.partition("?")
    masked = ["=".join((k, "***")) if is_secret_parameter(unquote_plus(k)) else f"{k}={v}"
              for k, _, v in (p.partition("=") for p in query.split("&"))]
    return base + "?" + "&".join(masked)


def create_engine_for(url: URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; an unknown dialect or missing driver is a clear error.

    PostgreSQL connections (psycopg2, psycopg) talk UTF-8 from the start, what COPY needs
    (``copytext.utf8_client``), whatever the database's or the environment's encoding.
    """
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in (
            "psycopg2", "psycopg"):
        kwargs["connect_args"] = {"client_encoding": "utf8", **kwargs.get("connect_args", {})}
    try:
        return sa.create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:  # ImportError: a dialect without its driver
        missing = "" if isinstance(exc, NoSuchModuleError) else " (its driver is not installed)"
        raise SynthgateError(
            f"unsupported database type {url.drivername!r}{missing}",
            where=mask_dsn(url),
            fix="use postgresql://, mysql://, mariadb://, sqlite:/// or duckdb:///",
        ) from None


def connection_error(exc: DBAPIError, url: URL) -> SynthgateError:
    """Turn a failed connection into one line that names the masked DSN."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    lowered = detail.lower()
    if "lock" in lowered and url.get_backend_name() == "duckdb":
        fix = "another process holds this DuckDB file open: close it, or work on a copy"
    elif "password" in lowered or "access denied" in lowered or "authentication" in lowered:
        fix = "check the user name and password"
    elif "does not exist" in lowered or "unknown database" in lowered:
        fix = "check the database name"
    else:
        fix = "check that the server is running and the host and port are right"
    as_written = url.set(drivername=url.get_backend_name())  # the plain URL the user wrote
    return SynthgateError(
        f"cannot connect to the database ({detail})", where=mask_dsn(as_written), fix=fix
    )


def check_connection(engine: Engine) -> None:
    """Open and close one connection so that a bad DSN fails early with a readable line."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise connection_error(exc, engine.url) from None


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection to the server is gone (SQLAlchemy recognised a
    disconnect: the server ended the session, the network dropped, the server stopped)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def first_cause(exc: BaseException) -> str:
    """The first line of the earliest exception ``exc`` was raised while handling (what
    went wrong first, e.g. "terminating connection due to administrator command")."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0]
