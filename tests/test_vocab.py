"""Vocabulary tables: exact export (make-vocab) and bulk load (create-vocab) on real databases."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import itertools
import json
import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import synthgate_agent.vocab as agent_vocab
import synthgate_builder.vocab as builder_vocab
import yaml
from synthgate_agent.source import open_source
from synthgate_agent.vocab import export_vocab
from synthgate_builder.sequences import advance_sequences
from synthgate_builder.vocab import (
    CopyStream,
    load_vocab,
    read_ahead,
    remove_vocab,
    vocab_files_in,
)
from synthgate_shared.config import Config, TableConfig
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import Column, OrmModel, SourceFingerprint, Table, dump_orm
from synthgate_shared.sqla import orm_to_metadata
from synthgate_shared.types import PortableType, parse_type
from synthgate_shared.values import encode_value, iso_to_interval, value_decoder
from synthgate_shared.vocabfile import VocabFile
from synthgate_shared.vocabwrite import RowLineSink, vocab_text_writer, write_vocab

PAGILA_VOCAB = ["category", "city", "country", "language", "film"]

TRICKY_TEXT = [
    "", "plain", "tab\there", "new\nline", "cr\r\nlf", 'double "quotes"', "single 'quotes'",
    "back\\slash \\N \\x00", "Ünïcödé ✓ — ñ", "emoji 😀🎉", "nel\x85 ls\u2028 ps\u2029 del\x7f",
    "{braces,comma}", "NULL", "null", "- {not: yaml}", "# not a comment", "  spaces  ",
]


def decode_value(value: Any, ptype: PortableType) -> Any:
    """Decode one encoded value of type ``ptype`` (None stays None), as the vocabulary
    reader does column by column."""
    decoder = value_decoder(ptype)
    return value if value is None or decoder is None else decoder(value)


def _config(*vocab: str) -> Config:
    return Config(tables={name: TableConfig(vocabulary_table=True) for name in vocab})


def _typed_rows(url: str, model: OrmModel, name: str) -> list[tuple[Any, ...]]:
    """Every row of ``name`` read through the typed metadata, in primary-key order."""
    engine = sa.create_engine(url)
    table = orm_to_metadata(model, engine.dialect.name).tables[name]
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(
            sa.select(table).order_by(*(table.c[k] for k in model.table(name).primary_key)))]
    engine.dispose()
    return rows


def _same(a: Any, b: Any) -> bool:
    """Equality that also holds for NaN (value for value, not object identity)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal) and a.is_nan():
        return b.is_nan()
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b and type(a) is type(b))


# --- the value codec ------------------------------------------------------------------------

CODEC_CASES: list[tuple[str, Any]] = [
    ("integer", 7), ("bigint", 2**63 - 1), ("boolean", False), ("text", "x\ny"),
    ("numeric(10,3)", decimal.Decimal("-12.500")), ("numeric", decimal.Decimal("1E+30")),
    ("numeric", decimal.Decimal("NaN")), ("double", 0.1), ("double", -math.inf),
    ("double", math.nan), ("real", 1.5e-7),
    ("date", dt.date(1, 1, 1)), ("timestamp", dt.datetime(2024, 2, 29, 23, 59, 59, 999999)),
    ("timestamptz", dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-3,
                                                                              minutes=-30)))),
    ("time", dt.time(0, 0, 0, 1)), ("timetz", dt.time(8, 30, tzinfo=dt.UTC)),
    ("interval", dt.timedelta(days=-3, seconds=5, microseconds=120)),
    ("interval", dt.timedelta(0)), ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("bytea", bytes(range(256))), ("json", {"a": [1, 2.5, None, "ü"], "b": {"c": True}}),
    ("jsonb", [1, "two"]), ("text[]", ["a", None, "", "b,c"]),
    ("integer[][]", [[1, 2], [3, None]]), ("numeric[]", [decimal.Decimal("1.10"), None]),
    ("date[]", [dt.date(2020, 1, 2)]), ("bytea[]", [b"\x00\\", None]),
]


@pytest.mark.parametrize(("type_text", "value"), CODEC_CASES)
def test_codec_round_trips_through_json(type_text: str, value: Any) -> None:
    ptype = parse_type(type_text)
    encoded = json.loads(json.dumps(encode_value(value), allow_nan=False))
    assert _same(decode_value(encoded, ptype), value)


def test_codec_accepts_memoryview_and_driver_subclasses() -> None:
    assert encode_value(memoryview(b"ab")) == "YWI="
    assert iso_to_interval("-P1DT2H3M4.5S") == -dt.timedelta(days=1, hours=2, minutes=3,
                                                             seconds=4.5)
    with pytest.raises(SynthgateError, match="ISO 8601 duration"):
        iso_to_interval("3 days")


# --- the file format ------------------------------------------------------------------------

def _tricky_table() -> Table:
    return Table("tricky", [Column("id", "integer", False), Column("t", "text"),
                            Column("n", "numeric(8,2)"), Column("b", "bytea"),
                            Column("a", "text[]"), Column("ts", "timestamptz")], ["id"])


def _tricky_rows() -> list[tuple[Any, ...]]:
    stamp = dt.datetime(2022, 2, 15, 9, 44, tzinfo=dt.UTC)
    rows: list[tuple[Any, ...]] = [
        (i, text, decimal.Decimal("1.50"), text.encode(), [text, None], stamp)
        for i, text in enumerate(TRICKY_TEXT)
    ]
    rows.append((len(rows), None, None, None, None, None))
    return rows


def _write(path: Path, table: Table, rows: list[tuple[Any, ...]], compress: bool) -> int:
    with path.open("wb") as raw, vocab_text_writer(raw, compress) as text:
        return write_vocab(text, table, rows)


@pytest.mark.parametrize("compress", [False, True])
def test_stream_reader_and_yaml_agree(tmp_path: Path, compress: bool) -> None:
    table, rows = _tricky_table(), _tricky_rows()
    path = tmp_path / ("tricky.yaml.gz" if compress else "tricky.yaml")
    assert _write(path, table, rows, compress) == len(rows)
    streamed = list(VocabFile(path, table).rows())
    assert streamed == rows
    raw = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
    document = yaml.safe_load(raw.decode("utf-8"))
    assert document["table"] == "tricky" and document["row_count"] == len(rows)
    from_yaml = [tuple(decode_value(r[c.name], c.portable) for c in table.columns)
                 for r in document["rows"]]
    assert from_yaml == rows
    # the same rows give the same bytes (deterministic gzip header)
    again = tmp_path / ("again" + path.name)
    _write(again, table, rows, compress)
    assert again.read_bytes() == path.read_bytes()


def test_sqlsynthgen_vocab_file_is_read(tmp_path: Path) -> None:
    table = Table("country", [Column("country_id", "integer", False), Column("country", "text"),
                              Column("last_update", "timestamp"), Column("blob", "bytea")],
                  ["country_id"])
    path = tmp_path / "country.yaml"
    path.write_text(yaml.safe_dump([
        {"country_id": 1, "country": "Afghanistan", "last_update": dt.datetime(2022, 2, 15),
         "blob": b"\x00\x01"},
        {"country_id": 2, "country": "Algeria", "last_update": None},
    ]))
    vocab = VocabFile(path, table)
    assert vocab.columns == ["country_id", "country", "last_update", "blob"]
    assert list(vocab.rows()) == [(1, "Afghanistan", dt.datetime(2022, 2, 15), b"\x00\x01"),
                                  (2, "Algeria", None, None)]


def test_damaged_files_are_clear_errors(tmp_path: Path) -> None:
    table, rows = _tricky_table(), _tricky_rows()
    path = tmp_path / "tricky.yaml"
    _write(path, table, rows, False)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-3]), encoding="utf-8")  # cut off: no row_count
    with pytest.raises(SynthgateError, match="truncated"):
        list(VocabFile(path, table).rows())
    path.write_text("".join(lines[:-2] + lines[-1:]), encoding="utf-8")  # one row missing
    with pytest.raises(SynthgateError, match="row_count says"):
        list(VocabFile(path, table).rows())
    bad = [line.replace('"n":"1.50"', '"n":"x"') for line in lines]
    path.write_text("".join(bad), encoding="utf-8")
    with pytest.raises(SynthgateError, match=r"tricky.yaml:\d+: bad value 'x' for column 'n'"):
        list(VocabFile(path, table).rows())
    other = Table("tricky", [Column("id", "integer")], ["id"])
    with pytest.raises(SynthgateError, match="column 't' is not a column"):
        VocabFile(tmp_path / "tricky.yaml", other)


# --- Pagila: export, load, compare ------------------------------------------------------------

@pytest.fixture(scope="module")
def pagila_model(pagila_url: str) -> OrmModel:
    from synthgate_agent.reflect import reflect_schema

    return reflect_schema(open_source(pagila_url))


def _raw_rows(url: str, name: str, key: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY {key}")]
    engine.dispose()
    return rows


@pytest.mark.postgres
@pytest.mark.parametrize("compress", [False, True])
def test_pagila_vocabulary_round_trip(pagila_url: str, pagila_model: OrmModel, pg_url: str,
                                      tmp_path: Path, compress: bool) -> None:
    config = _config(*PAGILA_VOCAB)
    exports = export_vocab(open_source(pagila_url), pagila_model, config, tmp_path / "vocab",
                           compress, None, False)
    assert {e.table: e.rows for e in exports} == {
        "category": 16, "city": 600, "country": 109, "language": 6, "film": 1000}
    assert sorted(p.name for p in (tmp_path / "vocab").iterdir()) == sorted(
        f"{n}.yaml{'.gz' if compress else ''}" for n in PAGILA_VOCAB)

    engine = sa.create_engine(pg_url)
    orm_to_metadata(pagila_model, "postgresql").create_all(engine)
    files = vocab_files_in(tmp_path / "vocab", config)
    loaded = load_vocab(engine, pagila_model, config, files)
    assert loaded == {e.table: e.rows for e in exports}
    for name in PAGILA_VOCAB:
        key = ", ".join(pagila_model.table(name).primary_key)
        assert _raw_rows(pg_url, name, key) == _raw_rows(pagila_url, name, key), name

    # sequences were advanced: an insert relying on the default does not collide
    with engine.begin() as conn:
        new_id = conn.exec_driver_sql(
            "INSERT INTO country (country) VALUES ('Atlantis') RETURNING country_id").scalar()
        assert new_id == 110
        conn.exec_driver_sql("DELETE FROM country WHERE country_id = 110")

    # loading again is a clear error and changes nothing
    with pytest.raises(SynthgateError, match="remove-vocab"):
        load_vocab(engine, pagila_model, config, files)
    assert len(_raw_rows(pg_url, "city", "city_id")) == 600

    # remove-vocab refuses while other rows refer to the vocabulary, then deletes children first
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO address (address, district, city_id, phone) "
                             "VALUES ('1 Main St', 'X', 1, '123')")
    with pytest.raises(SynthgateError, match="remove-data"):
        remove_vocab(engine, pagila_model, config)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM address")
    assert remove_vocab(engine, pagila_model, config) == {e.table: e.rows for e in exports}
    assert _raw_rows(pg_url, "country", "country_id") == []
    engine.dispose()


@pytest.mark.postgres
def test_pagila_export_errors(pagila_url: str, pagila_model: OrmModel, tmp_path: Path) -> None:
    source = open_source(pagila_url)
    out = tmp_path / "vocab"
    with pytest.raises(SynthgateError, match=r"'contry' does not exist in orm.yaml.*'country'"):
        export_vocab(source, pagila_model, _config("contry"), out, False, None, False)
    with pytest.raises(SynthgateError, match=r"'actor' is not a vocabulary table.*"
                                             "vocabulary_table: true"):
        export_vocab(source, pagila_model, _config("country"), out, False, "actor", False)
    with pytest.raises(SynthgateError, match=r"'contry' is not a vocabulary table.*'country'"):
        export_vocab(source, pagila_model, _config("country"), out, False, "contry", False)
    ghost = OrmModel(pagila_model.source, dict(pagila_model.tables), pagila_model.enums,
                     pagila_model.domains)
    ghost.tables["countries"] = Table("countries", [Column("id", "integer")], ["id"])
    with pytest.raises(SynthgateError, match=r"'countries' does not exist in the source.*"
                                             "'country'"):
        export_vocab(source, ghost, _config("countries"), out, False, None, False)
    assert not out.exists() or list(out.iterdir()) == []

    export_vocab(source, pagila_model, _config("country", "language"), out, False, "language",
                 False)
    assert [p.name for p in out.iterdir()] == ["language.yaml"]
    with pytest.raises(SynthgateError, match=r"already exists.*--force"):
        export_vocab(source, pagila_model, _config("language"), out, True, None, False)
    export_vocab(source, pagila_model, _config("language"), out, True, None, True)
    assert [p.name for p in out.iterdir()] == ["language.yaml.gz"]  # the plain one is replaced


@pytest.mark.postgres
@pytest.mark.parametrize("server_json", [True, False])
def test_interrupted_export_leaves_no_file(pagila_url: str, pagila_model: OrmModel,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           server_json: bool) -> None:
    if server_json:  # interrupt the COPY stream after its first block of lines
        class InterruptedSink(RowLineSink):
            def write(self, data: Any) -> int:
                super().write(data)
                raise KeyboardInterrupt

        monkeypatch.setattr(agent_vocab, "RowLineSink", InterruptedSink)
    else:
        real_write = agent_vocab.write_vocab

        def interrupted(handle: io.TextIOBase, table: Table, rows: Iterator[Any]) -> int:
            def rows_then_interrupt() -> Iterator[Any]:
                for number, row in enumerate(rows):
                    if number == 300:
                        raise KeyboardInterrupt
                    yield row

            return real_write(handle, table, rows_then_interrupt())  # type: ignore[arg-type]

        monkeypatch.setattr(agent_vocab, "pg_json_lines_query", lambda *_args: None)
        monkeypatch.setattr(agent_vocab, "write_vocab", interrupted)
    out = tmp_path / "vocab"
    with pytest.raises(KeyboardInterrupt):
        export_vocab(open_source(pagila_url), pagila_model, _config("city"), out, True, None,
                     False)
    assert list(out.iterdir()) == []


@pytest.mark.postgres
def test_cli_make_vocab_and_create_vocab(pagila_url: str, pagila_model: OrmModel, pg_url: str,
                                         tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgate_agent.cli import app as agent_app
    from synthgate_builder.cli import app as builder_app
    from synthgate_shared.cli import run_app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "orm.yaml").write_text(dump_orm(pagila_model))
    (tmp_path / "config.yaml").write_text(
        "tables:\n  country: {vocabulary_table: true}\n  language: {vocabulary_table: true}\n")
    agent = ["--dsn", pagila_url]
    assert run_app(agent_app, "synthgate-agent", ["make-vocab", "--compress", *agent]) == 0
    assert sorted(p.name for p in (tmp_path / "vocab").iterdir()) == [
        "country.yaml.gz", "language.yaml.gz"]
    assert run_app(agent_app, "synthgate-agent", ["make-vocab", "--compress", *agent]) == 1
    assert run_app(agent_app, "synthgate-agent", ["make-vocab", "--only", "film", *agent]) == 1

    orm_to_metadata(pagila_model, "postgresql").create_all(sa.create_engine(pg_url))
    assert run_app(builder_app, "synthgate-builder", ["create-vocab", "--dsn", pg_url]) == 0
    assert len(_raw_rows(pg_url, "country", "country_id")) == 109
    assert run_app(builder_app, "synthgate-builder",
                   ["remove-vocab", "--dsn", pg_url, "--yes"]) == 0
    assert _raw_rows(pg_url, "country", "country_id") == []


# --- every type, on every database ------------------------------------------------------------

def _types_model(dialect: str) -> OrmModel:
    columns = [
        Column("id", "integer", False, True), Column("i2", "smallint"), Column("i8", "bigint"),
        Column("b", "boolean"), Column("r", "real"), Column("d", "double"),
        Column("n", "numeric(14,4)"), Column("c", "char(3)"), Column("vc", "varchar(60)"),
        Column("t", "text"), Column("dt", "date"), Column("tm", "time"),
        Column("ts", "timestamp"), Column("iv", "interval"), Column("u", "uuid"),
        Column("j", "json"), Column("jb", "jsonb"), Column("by", "bytea"),
        Column("ta", "text[]"), Column("ia", "integer[]"),
    ]
    enums = {}
    if dialect == "postgresql":
        columns += [Column("tstz", "timestamptz"), Column("ttz", "timetz"),
                    Column("tsv", "tsvector"), Column("e", "enum:mood"),
                    Column("ia2", "integer[][]"), Column("nn", "numeric"),
                    Column("ba", "bytea[]")]
        enums = {"mood": ["sad", "ok", "happy"]}
    table = Table("typed", columns, ["id"])
    return OrmModel(SourceFingerprint(dialect), {"typed": table}, enums=enums)


def _types_rows(dialect: str, texts: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, text in enumerate(texts, 1):
        row: dict[str, Any] = {
            "id": i, "i2": -(2**15), "i8": 2**63 - 1, "b": i % 2 == 0, "r": 1.5, "d": 0.1 * i,
            "n": decimal.Decimal("-1234567890.1234"), "c": "ab", "vc": text[:60], "t": text,
            "dt": dt.date(1999, 12, 31), "tm": dt.time(23, 59, 59, 123456),
            "ts": dt.datetime(2024, 2, 29, 12, 0, 0, 654321),
            "iv": dt.timedelta(days=-2, seconds=3, microseconds=4) if i % 2 else
            dt.timedelta(days=400, seconds=86399),
            "u": uuid.UUID(int=i * 0x1234567), "j": {"text": text, "list": [1, 2.5, None]},
            "jb": [text, {"k": False}], "by": text.encode() + b"\x00\xff",
            "ta": [text, None, "", "a,b", '"q"'], "ia": [1, None, -3],
        }
        if dialect == "postgresql":
            row.update({
                "tstz": dt.datetime(2020, 1, 1, 1, 2, 3, tzinfo=dt.UTC),
                "ttz": dt.time(4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
                "tsv": "'fat':2 'rat':3", "e": "happy", "ia2": [[1, 2], [None, 4]],
                "nn": decimal.Decimal("NaN") if i % 2 else decimal.Decimal("1E+40"),
                "ba": [b"\\x\x00", None],
            })
        rows.append(row)
    rows.append({"id": len(rows) + 1})  # every other column NULL
    rows.append({"id": len(rows) + 1, "t": "", "vc": "", "ta": [], "ia": [], "by": b"",
                 "j": {}, "jb": []})
    return rows


def _make_db(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
             name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}.db"
    factory: Callable[[], str] = request.getfixturevalue(
        "pg_url_factory" if kind == "postgresql" else "maria_url_factory")
    return factory()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlite"])
def test_every_type_round_trips(kind: str, request: pytest.FixtureRequest,
                                tmp_path: Path) -> None:
    dialect = "mysql" if kind == "mariadb" else kind
    model = _types_model(dialect)
    src_url = _make_db(kind, request, tmp_path, "src")
    dst_url = _make_db(kind, request, tmp_path, "dst")
    src = sa.create_engine(src_url)
    src_table = orm_to_metadata(model, src.dialect.name).tables["typed"]
    src_table.metadata.create_all(src)
    rows = _types_rows(dialect, TRICKY_TEXT)
    with src.begin() as conn:
        for row in rows:
            conn.execute(src_table.insert(), [{c.name: row.get(c.name) for c in src_table.c}])
    src.dispose()

    config = _config("typed")
    export_vocab(open_source(src_url), model, config, tmp_path / "vocab", True, None, False)
    dst = sa.create_engine(dst_url)
    orm_to_metadata(model, dst.dialect.name).create_all(dst)
    assert load_vocab(dst, model, config, vocab_files_in(tmp_path / "vocab", config)) == {
        "typed": len(rows)}
    expected = _typed_rows(src_url, model, "typed")
    got = _typed_rows(dst_url, model, "typed")
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        for column, a, b in zip(src_table.c.keys(), want, have, strict=True):
            assert _same(a, b), (column, a, b)

    # the key was advanced past the loaded rows: a default-keyed insert does not collide
    dst_table = orm_to_metadata(model, dst.dialect.name).tables["typed"]
    with dst.begin() as conn:
        key = conn.execute(dst_table.insert().values(t="after")).inserted_primary_key
        assert key is not None
        new_id = key[0]
        advance_sequences(conn, model, ["typed"], None)  # idempotent
    assert new_id == len(rows) + 1
    dst.dispose()


# --- the bulk paths: PostgreSQL renders the JSON lines, COPY loads whole chunks ---------------

def _server_model() -> OrmModel:
    """Every type PostgreSQL renders as vocabulary JSON itself (pg_json_expression)."""
    columns = [
        Column("id", "integer", False, True), Column("i2", "smallint"), Column("i8", "bigint"),
        Column("b", "boolean"), Column("r", "real"), Column("d", "double"),
        Column("n", "numeric(14,4)"), Column("nn", "numeric"), Column("c", "char(3)"),
        Column("vc", "varchar(60)"), Column("t", "text"), Column("dt", "date"),
        Column("tm", "time"), Column("ttz", "timetz"), Column("ts", "timestamp"),
        Column("tstz", "timestamptz"), Column("u", "uuid"), Column("jb", "jsonb"),
        Column("by", "bytea"), Column("e", "enum:mood"), Column("tsv", "tsvector"),
        Column("ta", "text[]"), Column("ia", "integer[]"), Column("na", "numeric[]"),
        Column("da", "date[]"), Column("ba", "boolean[]"), Column("ia2", "integer[][]"),
    ]
    return OrmModel(SourceFingerprint("postgresql"), {"typed": Table("typed", columns, ["id"])},
                    enums={"mood": ["sad", "ok", "happy"]})


def _server_rows() -> list[dict[str, Any]]:
    floats = [-0.0, math.nan, math.inf, -math.inf, 0.1, 1e300, 5e-324]
    numerics = [decimal.Decimal(v) for v in ("NaN", "1E+40", "1.10", "-0.000",
                                             "12345678901234567890.123456789")]
    rows: list[dict[str, Any]] = []
    for i, text in enumerate(TRICKY_TEXT, 1):
        rows.append({
            "id": i, "i2": -(2**15), "i8": 2**63 - 1, "b": i % 2 == 0,
            "r": [-0.0, 1.5e-7, math.inf][i % 3], "d": floats[i % len(floats)],
            "n": decimal.Decimal("-1234567890.1230"), "nn": numerics[i % len(numerics)],
            "c": "ab", "vc": text[:60], "t": text, "dt": dt.date(1999, 12, 31),
            "tm": dt.time(23, 59, 59, 123456),
            "ttz": dt.time(4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
            "ts": dt.datetime(2024, 2, 29, 12, 0, 0, 654321),
            "tstz": dt.datetime(2020, 1, 1, 1, 2, 3, 4, tzinfo=dt.UTC),
            "u": uuid.UUID(int=i * 0x1234567), "jb": {"text": text, "n": [1, 2.5, None]},
            "by": text.encode() + b"\x00\xff", "e": "happy", "tsv": "'fat':2 'r\\\\at':3",
            "ta": [text, None, "", "a,b", '"q"', "{x}", "NULL", "[y]"], "ia": [1, None, -3],
            "na": [decimal.Decimal("1.10"), None, decimal.Decimal("NaN")],
            "da": [dt.date(2020, 1, 2), None], "ba": [True, None, False],
            "ia2": [[1, 2], [None, 4]],
        })
    rows.append({"id": len(rows) + 1})  # every other column NULL
    rows.append({"id": len(rows) + 1, "t": "", "vc": "", "ta": [], "ia": [], "by": b"",
                 "jb": {}, "na": [], "ia2": []})
    return rows


def _fill(url: str, model: OrmModel, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    table = orm_to_metadata(model, "postgresql").tables["typed"]
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{c.name: row.get(c.name) for c in table.c} for row in rows])
    engine.dispose()


def _checksums(url: str) -> list[str]:
    """The text of every row (PostgreSQL's own output of each value), in key order."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("SELECT t::text FROM typed t ORDER BY id")]
    engine.dispose()
    return rows


@pytest.mark.postgres
def test_server_rendered_export_is_exact_and_loads_by_chunks(
        pg_url_factory: Callable[[], str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = _server_model()
    src_url = pg_url_factory()
    rows = _server_rows()
    _fill(src_url, model, rows)
    config = _config("typed")
    source = open_source(src_url)
    sa_table = orm_to_metadata(model, "postgresql").tables["typed"]
    assert agent_vocab.pg_json_lines_query(sa_table, model.table("typed")) is not None

    # the server path and the Python codec write files that read back the same
    export_vocab(source, model, config, tmp_path / "server", True, None, False)
    again = export_vocab(source, model, config, tmp_path / "again", True, None, False)
    assert again[0].path.read_bytes() == (tmp_path / "server" / "typed.yaml.gz").read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(agent_vocab, "pg_json_lines_query", lambda *_args: None)
        export_vocab(source, model, config, tmp_path / "python", False, None, False)
    table = model.table("typed")
    server_rows = list(VocabFile(tmp_path / "server" / "typed.yaml.gz", table).rows())
    python_rows = list(VocabFile(tmp_path / "python" / "typed.yaml", table).rows())
    assert len(server_rows) == len(rows)
    for a, b in zip(server_rows, python_rows, strict=True):
        assert _same(list(a), list(b)), (a, b)
    # and the safe YAML loader reads the same values
    document = yaml.safe_load(gzip.decompress(
        (tmp_path / "server" / "typed.yaml.gz").read_bytes()).decode("utf-8"))
    from_yaml = [tuple(decode_value(r[c.name], c.portable) for c in table.columns)
                 for r in document["rows"]]
    for a, b in zip(from_yaml, server_rows, strict=True):
        assert _same(list(a), list(b)), (a, b)

    # create-vocab: chunks converted by the expression, or row by row, load the same rows
    want = _checksums(src_url)
    for folder, fast in (("server", True), ("server", False), ("python", True)):
        dst_url = pg_url_factory()
        dst = sa.create_engine(dst_url)
        orm_to_metadata(model, "postgresql").create_all(dst)
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(builder_vocab.ChunkConverter, "_fast", lambda *_args: None)
            assert load_vocab(dst, model, config, vocab_files_in(tmp_path / folder, config)) \
                == {"typed": len(rows)}
        dst.dispose()
        assert _checksums(dst_url) == want, (folder, fast)


@pytest.mark.postgres
def test_plain_copy_text_export_equals_the_server_json_lines(
        pg_url_factory: Callable[[], str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables of plain types leave PostgreSQL as plain COPY text and become row lines in
    Python: byte for byte the lines row_to_json gives, over many blocks, for NULLs, control
    characters, COPY's own escapes, BC and infinite dates, and any session DateStyle."""
    columns = [
        Column("id", "integer", False, True), Column("i2", "smallint"), Column("i8", "bigint"),
        Column("b", "boolean"), Column("n", "numeric(14,4)"), Column("nn", "numeric"),
        Column("c", "char(3)"), Column("vc", "varchar(60)"), Column("t", "text"),
        Column("dt", "date"), Column("tm", "time"), Column("ts", "timestamp"),
        Column("u", "uuid"), Column("e", "enum:mood"), Column("tsv", "tsvector"),
        Column('odd %s "name"\\', "text"),
    ]
    model = OrmModel(SourceFingerprint("postgresql"), {"typed": Table("typed", columns, ["id"])},
                     enums={"mood": ["sad", "ok", "happy"]})
    texts = [*TRICKY_TEXT, "ctl\x01\x02\x1f", "vt\x0b bs\x08 ff\x0c", "\\N", "\\", '"\\N"',
             '\\"', "ends with backslash\\"]
    rows: list[dict[str, Any]] = []
    for i in range(3000):
        text = texts[i % len(texts)]
        rows.append({
            "id": i, "i2": i % 7 - 3, "i8": 2**63 - 1 - i, "b": [True, False, None][i % 3],
            "n": decimal.Decimal("-1234567890.1230"),
            "nn": [decimal.Decimal(v) for v in ("NaN", "1E+40", "1.10", "-0.000")][i % 4],
            "c": "ab", "vc": text[:60], "t": text, "dt": dt.date(1999, 12, 31),
            "tm": dt.time(23, 59, 59, 123456), "ts": dt.datetime(2024, 2, 29, 12, 0, 0, i),
            "u": uuid.UUID(int=i * 0x1234567), "e": "happy", "tsv": "'fat':2 'r\\\\at':3",
            'odd %s "name"\\': text,
        })
        if i % 10 == 5:  # NULL in every nullable column
            rows[-1] = {"id": i}
    src_url = pg_url_factory()
    _fill(src_url, model, rows)
    engine = sa.create_engine(src_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO typed (id, dt, ts) VALUES (5000, '0044-03-15 BC', "
            "'0044-03-15 10:00:01.5 BC'), (5001, 'infinity', '-infinity'), "
            "(5002, '12000-01-01', '12000-01-01 00:00:00')")
        conn.exec_driver_sql(f"ALTER DATABASE {sa.make_url(src_url).database} "
                             "SET DateStyle = 'SQL, DMY'")
    engine.dispose()
    source, config = open_source(src_url), _config("typed")
    sa_table = orm_to_metadata(model, "postgresql").tables["typed"]
    assert agent_vocab.pg_copy_text_query(sa_table, model.table("typed")) is not None
    monkeypatch.setattr(agent_vocab, "COPY_BUFFER", 4096)  # many blocks
    export_vocab(source, model, config, tmp_path / "text", False, None, False)
    with monkeypatch.context() as patch:
        patch.setattr(agent_vocab, "pg_copy_text_query", lambda *_args: None)
        export_vocab(source, model, config, tmp_path / "json", False, None, False)
    text_file = (tmp_path / "text" / "typed.yaml").read_bytes()
    assert text_file == (tmp_path / "json" / "typed.yaml").read_bytes()
    assert b'"ctl\\u0001\\u0002\\u001f"' in text_file and b"vt\\u000b bs\\b ff\\f" in text_file
    assert yaml.safe_load(text_file)["row_count"] == len(rows) + 3


@pytest.mark.postgres
def test_chunk_conversion_is_exact_for_tricky_arrays_and_strings(
        pg_url_factory: Callable[[], str], tmp_path: Path) -> None:
    """Chunks that the expression converts, and chunks that fall back (a string ``null``, a
    \\u escape), in one file of many chunks."""
    model = OrmModel(SourceFingerprint("postgresql"), {"typed": Table("typed", [
        Column("id", "integer", False), Column("t", "text"), Column("ta", "text[]"),
        Column("d", "double")], ["id"])})
    texts = ["a\\\\b", 'q"uote', "back\\\\", "x\\ty", "[br]", "{br}", "a,b", " ", "", "é—’"]
    rows = [{"id": i, "t": texts[i % len(texts)], "ta": [texts[(i + 1) % len(texts)], None],
             "d": i / 3} for i in range(5000)]
    rows[4000]["t"] = "null"
    rows[4500]["t"] = "ctl\x01\x0b"
    src_url = pg_url_factory()
    engine = sa.create_engine(src_url)
    table = orm_to_metadata(model, "postgresql").tables["typed"]
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()
    config = _config("typed")
    export_vocab(open_source(src_url), model, config, tmp_path, False, None, False)
    vocab = VocabFile(tmp_path / "typed.yaml", model.table("typed"))
    chunks = list(vocab.row_chunks(size=20_000))
    converter = builder_vocab.ChunkConverter(vocab)
    fast = [converter._fast(c) for c in chunks]
    assert fast.count(None) == 2 and len(fast) > 10
    for chunk, text in zip(chunks, fast, strict=True):
        assert text is None or text.count(b"\n") == chunk.rows
    dst_url = pg_url_factory()
    dst = sa.create_engine(dst_url)
    orm_to_metadata(model, "postgresql").create_all(dst)
    load_vocab(dst, model, config, {"typed": tmp_path / "typed.yaml"})
    dst.dispose()
    want = _raw_rows(src_url, "typed", "id")
    assert _raw_rows(dst_url, "typed", "id") == want


def test_row_line_sink_escapes_and_joins_pieces() -> None:
    out = io.BytesIO()
    sink = RowLineSink(out)
    line = '- {"t":"nel\x85 ls\u2028 del\x7f ok\u00e9"}\n- {"t":"b"}\n'.encode()
    for i in range(0, len(line), 5):
        sink.write(line[i:i + 5])
    sink.finish()
    text = out.getvalue().decode()
    assert text == '- {"t":"nel\\u0085 ls\\u2028 del\\u007f ok\u00e9"}\n- {"t":"b"}\n'
    assert yaml.safe_load(text) == [{"t": "nel\x85 ls\u2028 del\x7f ok\u00e9"}, {"t": "b"}]
    sink.write(b"- {")
    with pytest.raises(SynthgateError, match="incomplete"):
        sink.finish()


def test_read_ahead_and_copy_stream() -> None:
    pieces = [b"abc", b"", b"defgh", b"ij"]
    stream = CopyStream(read_ahead(iter(pieces)), b"")
    assert [stream.read(4) for _ in range(4)] == [b"abcd", b"efgh", b"ij", b""]
    assert CopyStream(iter(["a", "bc"])).read() == "abc"

    def failing() -> Iterator[bytes]:
        yield b"x"
        raise SynthgateError("damaged")

    with pytest.raises(SynthgateError, match="damaged"):
        list(read_ahead(failing()))
    endless = read_ahead(itertools.repeat(b"y"))
    assert next(endless) == b"y"
    endless.close()  # stops the producer


@pytest.mark.postgres
def test_damaged_file_fails_the_copy_and_loads_nothing(pg_url: str, tmp_path: Path) -> None:
    table, rows = _tricky_table(), _tricky_rows()
    model = OrmModel(SourceFingerprint("postgresql"), {"tricky": table})
    path = tmp_path / "tricky.yaml"
    _write(path, table, rows, False)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-2] + lines[-1:]), encoding="utf-8")  # one row missing
    engine = sa.create_engine(pg_url)
    orm_to_metadata(model, "postgresql").create_all(engine)
    with pytest.raises(SynthgateError, match="row_count says"):
        load_vocab(engine, model, _config("tricky"), {"tricky": path})
    bad = [line.replace('"n":"1.50"', '"n":"x"') for line in lines]
    path.write_text("".join(bad), encoding="utf-8")
    with pytest.raises(SynthgateError, match=r"tricky\.yaml:\d+: bad value 'x' for column 'n'"):
        load_vocab(engine, model, _config("tricky"), {"tricky": path})
    engine.dispose()
    assert _raw_rows(pg_url, "tricky", "id") == []


@pytest.mark.postgres
def test_rows_in_another_json_layout_load_row_by_row(pg_url: str, tmp_path: Path) -> None:
    """Spaces after separators, another key order: valid rows the chunk expression does not
    match are decoded one by one."""
    table, rows = _tricky_table(), _tricky_rows()
    model = OrmModel(SourceFingerprint("postgresql"), {"tricky": table})
    names = table.column_names
    lines = [json.dumps(dict(reversed(list(zip(names, map(encode_value, row), strict=True)))),
                        ensure_ascii=False)
             for row in rows]
    path = tmp_path / "tricky.yaml"
    path.write_text(
        "synthgate-vocab: 1\ntable: tricky\ncolumns:\n"
        + "".join(f"  {c.name}: {c.type}\n" for c in table.columns) + "rows:\n# a comment\n"
        + "".join(f"- {line}\n" for line in lines) + f"\nrow_count: {len(rows)}\n# end\n",
        encoding="utf-8")
    engine = sa.create_engine(pg_url)
    orm_to_metadata(model, "postgresql").create_all(engine)
    assert load_vocab(engine, model, _config("tricky"), {"tricky": path}) == {
        "tricky": len(rows)}
    engine.dispose()
    assert _typed_rows(pg_url, model, "tricky") == rows
