"""PostgreSQL COPY text both ways (``synthgate_shared.copytext``) and its UTF-8 guard, on a
real server."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from synthgate_shared.copytext import (
    copy_in,
    copy_text_column,
    copy_text_field,
    copy_text_value,
    utf8_client,
)
from synthgate_shared.db import create_engine_for
from synthgate_shared.errors import SynthgateError
from synthgate_shared.types import parse_type


def test_fields_round_trip_through_the_reader() -> None:
    text = parse_type("text")
    for value in ["plain", "tab\there", "new\nline", "back\\slash", "cr\rlf", "ünïcødé"]:
        assert copy_text_value(copy_text_field(text)(value)) == value
    assert copy_text_column(text)(["a\tb", None]) == ["a\\tb", "\\N"]
    assert copy_text_field(parse_type("interval"))(dt.timedelta(days=-1, seconds=5)) == \
        "-0 days -86395.000000 seconds"
    assert copy_text_field(parse_type("text[]"))(["a b", None]) == '{"a b",NULL}'


@pytest.fixture
def latin1_url(pg_url: str) -> Iterator[str]:
    """A new LATIN1 PostgreSQL database (on the server of ``pg_url``), dropped after."""
    name = f"sglatin1_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' "
                             "LC_CTYPE 'C' TEMPLATE template0")
    url = sa.make_url(pg_url).set(database=name)
    with sa.create_engine(url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE words (w text)")
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def test_engines_talk_utf8_to_a_latin1_database(latin1_url: str) -> None:
    engine = create_engine_for(sa.make_url(latin1_url))
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None and raw.encoding == "UTF8"
        data = io.BytesIO("naïve\ncafé\n".encode())
        assert copy_in(raw, "COPY words (w) FROM STDIN", data, 1 << 16) == 2
        assert conn.exec_driver_sql("SELECT w FROM words ORDER BY w").scalars().all() == [
            "café", "naïve"]
    engine.dispose()


def test_a_latin1_connection_is_switched_only_outside_a_transaction(latin1_url: str) -> None:
    engine = sa.create_engine(latin1_url)  # no client_encoding: the database's LATIN1
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None and raw.encoding == "LATIN1"
        conn.exec_driver_sql("SELECT 1")  # a transaction is open: switching would end it
        with pytest.raises(SynthgateError, match="client encoding is LATIN1, not UTF-8"):
            utf8_client(raw)
        conn.rollback()
        utf8_client(raw)
        assert raw.encoding == "UTF8"
    engine.dispose()
