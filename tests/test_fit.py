"""Fitting generated values to their columns (pure: no database)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import numpy as np
import pytest
from synthgate_builder.fit import (
    ColumnFit,
    Source,
    TableFit,
    cannot_generate,
    generator_sources,
    row_generator_source,
    story_source,
)
from synthgate_shared.config import RowGenerator
from synthgate_shared.errors import SynthgateError
from synthgate_shared.orm import OrmModel, orm_from_data

ORM: dict[str, Any] = {
    "source": {"dialect": "postgresql"},
    "enums": {"color": ["red", "green", "blue"]},
    "domains": {"percent": {"type": "integer", "nullable": True,
                            "checks": ["VALUE >= 0 AND VALUE <= 100"]}},
    "tables": {
        "users": {
            "columns": [
                {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
                {"name": "city", "type": "varchar(15)"},
                {"name": "amount", "type": "numeric(5,2)"},
                {"name": "age", "type": "integer", "nullable": False},
                {"name": "small", "type": "smallint"},
                {"name": "code", "type": "char(2)"},
                {"name": "color", "type": "enum:color"},
                {"name": "score", "type": "integer"},
                {"name": "share", "type": "integer", "domain": "percent"},
                {"name": "born", "type": "date"},
                {"name": "seen", "type": "timestamp"},
                {"name": "ratio", "type": "real"},
                {"name": "flag", "type": "boolean"},
                {"name": "kind", "type": "text"},
                {"name": "token", "type": "uuid"},
                {"name": "doc", "type": "jsonb"},
                {"name": "tags", "type": "text[]"},
                {"name": "nick", "type": "varchar(30)"},
                {"name": "level", "type": "smallint"},
                {"name": "day", "type": "date"},
            ],
            "primary_key": ["id"],
            "checks": [{"sqltext": "score BETWEEN 0 AND 100"},
                       {"sqltext": "kind IN ('OWNER', 'DISPONENT')"},
                       {"sqltext": "length(nick) >= 3"},
                       {"sqltext": "level IN (1, 5, 10) AND day >= '2000-01-01'"},
                       {"sqltext": "small <> 7"}],
        },
    },
}

MIMESIS = row_generator_source("generic.address.city", None)
BUILTIN = row_generator_source("synthgate.quantiles", None)
USER = row_generator_source("user_age_provider", "airbnb_generators")


@pytest.fixture
def model() -> OrmModel:
    return orm_from_data(ORM)


def _fit(model: OrmModel, column: str, values: list[Any], source: Source = MIMESIS,
         dialect: str = "postgresql") -> list[Any]:
    table = model.table("users")
    return ColumnFit(table, table.column(column), model, dialect).fit(
        values, source, np.random.default_rng(0))


def _error(model: OrmModel, column: str, value: Any, source: Source = USER) -> str:
    with pytest.raises(SynthgateError) as info:
        _fit(model, column, [value], source)
    line = info.value.one_line()
    assert "\n" not in line
    return line


def test_sources() -> None:
    assert not MIMESIS.strict and not BUILTIN.strict
    assert Source("airbnb_generators.user_age_provider", strict=True) == USER
    assert row_generator_source("mod.f", "other").name == "mod.f"
    assert story_source("sessions_story", "stories").said() == \
        "story generator stories.sessions_story yielded"
    gens = [RowGenerator(name="generic.person.email", columns_assigned=["a"]),
            RowGenerator(name="f", columns_assigned=["b", "c"])]
    sources = generator_sources(gens, "m")
    assert sources["a"].strict is False and sources["c"] == Source("m.f", strict=True)


def test_long_strings_are_cut_for_mimesis(model: OrmModel) -> None:
    out = _fit(model, "city", ["North Plainfield", "Springfield Gardens East", "Oslo", None,
                               "Exactly fifteen", "Fifteen chars    "])
    # no space near the limit: a hard cut; a space close to it: a cut at the word
    assert out == ["North Plainfiel", "Springfield", "Oslo", None, "Exactly fifteen",
                   "Fifteen chars"]
    assert all(v is None or len(v) <= 15 for v in out)
    assert _fit(model, "code", ["USA", "de"]) == ["US", "de"]


def test_values_that_fit_are_left_alone(model: OrmModel) -> None:
    values = ["Oslo", "Rome"]
    assert _fit(model, "city", values) is values
    ints = [1, 2, 3]
    assert _fit(model, "age", ints, USER) is ints


def test_user_string_too_long_is_one_line(model: OrmModel) -> None:
    line = _error(model, "city", "North Plainfield")
    assert line.startswith("users.city: generator airbnb_generators.user_age_provider "
                           "returned 'North Plainfield' (16 characters) for a varchar(15) "
                           "column")
    assert "at most 15 characters" in line
    long = "x" * 500
    assert "..." in _error(model, "city", long) and long not in _error(model, "city", long)


def test_integers(model: OrmModel) -> None:
    # a float is rounded half to even (PostgreSQL's assignment cast), digits are read
    assert _fit(model, "age", [26.43, 2.5, 3.5, "42", " -7 ", np.int64(5),
                               decimal.Decimal("2.5")], USER) == [26, 2, 4, 42, -7, 5, 3]
    assert _fit(model, "small", [40000, -40000, 5]) == [32767, -32768, 5]
    assert _fit(model, "score", [120, -3, 50]) == [100, 0, 50]
    assert _fit(model, "share", [101, 3, None]) == [100, 3, None]
    assert "returned 40000 for a smallint column, which holds values from -32768 to 32767" \
        in _error(model, "small", 40000)
    assert "returned 120 for an integer column, which holds values from 0 to 100" in \
        _error(model, "score", 120)
    assert "(domain percent) column, which holds values from 0 to 100" in \
        _error(model, "share", 101)
    assert "returned {'a': 1} (a dict) for an integer column" in _error(model, "age", {"a": 1})
    assert "returned '26.43' for an integer column (not a whole number)" in \
        _error(model, "age", "26.43")
    assert "(not a finite number)" in _error(model, "age", float("nan"))
    assert "(a bool)" in _error(model, "age", True)
    # a wrong type is an error whoever made it
    assert "another generator" in _error(model, "age", [1], MIMESIS)


def test_checks_on_ordered_values(model: OrmModel) -> None:
    assert _fit(model, "level", [0, 4, 9, 10, 50]) == [1, 5, 10, 10, 10]  # the nearest
    assert "returned 4 for a smallint column, whose checks allow only 1, 5, 10" in \
        _error(model, "level", 4)
    assert _fit(model, "day", [dt.date(1990, 5, 1), dt.date(2001, 1, 1)]) == [
        dt.date(2000, 1, 1), dt.date(2001, 1, 1)]
    assert "which holds values at least 2000-01-01" in _error(model, "day", "1999-12-31")
    assert _fit(model, "small", [7, 8]) == [8, 8]
    assert "whose checks exclude it" in _error(model, "small", 7)


def test_not_null(model: OrmModel) -> None:
    assert "returned None for an integer column that is NOT NULL" in \
        _error(model, "age", None)
    assert _fit(model, "id", [None, 3], USER) == [None, 3]  # the database fills it


def test_numeric(model: OrmModel) -> None:
    out = _fit(model, "amount", [123.456, 99999.0, decimal.Decimal("1.235"), 7, "2.5"])
    assert out == [123.46, decimal.Decimal("999.99"), decimal.Decimal("1.24"), 7,
                   decimal.Decimal("2.5")]
    assert _fit(model, "amount", [1.5, 2.25]) == [1.5, 2.25]
    assert "returned 12345.6 for a numeric(5,2) column, which holds values from -999.99 " \
        "to 999.99" in _error(model, "amount", 12345.6)
    assert "(not a number)" in _error(model, "amount", "lots")


def test_enums_and_lists(model: OrmModel) -> None:
    out = _fit(model, "color", ["red", "purple", "blue"])
    assert out[0] == "red" and out[2] == "blue" and out[1] in ("red", "green", "blue")
    assert "returned 'purple' for an enum color column, whose labels are 'red', 'green', " \
        "'blue'" in _error(model, "color", "purple")
    assert set(_fit(model, "kind", ["OWNER", "x", "y"])) <= {"OWNER", "DISPONENT"}
    assert "whose checks allow only 'OWNER', 'DISPONENT'" in _error(model, "kind", "x")


def test_text_types_and_lengths(model: OrmModel) -> None:
    assert _fit(model, "kind", ["OWNER"], USER) == ["OWNER"]
    assert _fit(model, "city", [12, decimal.Decimal("1.5")], USER) == ["12", "1.5"]
    assert "(a dict) for a varchar(15) column" in _error(model, "city", {"a": 1})
    assert _fit(model, "nick", ["ab", "abcd"]) == ["abx", "abcd"]
    assert "whose checks need at least 3" in _error(model, "nick", "ab")
    assert _fit(model, "city", ["a\x00b"]) == ["ab"]
    assert "NUL" in _error(model, "city", "a\x00b")


def test_dates_and_times(model: OrmModel) -> None:
    assert _fit(model, "born", ["2020-01-02", dt.datetime(2020, 1, 3, 10),
                                np.datetime64("2020-01-04")], USER) == [
        dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 4)]
    assert _fit(model, "seen", ["2020-01-02 10:00:00", dt.date(2020, 1, 3)], USER) == [
        dt.datetime(2020, 1, 2, 10), dt.datetime(2020, 1, 3)]
    assert "returned 'not a date' for a date column (not a date)" in \
        _error(model, "born", "not a date")
    assert "(an int) for a date column" in _error(model, "born", 5)


def test_other_types(model: OrmModel) -> None:
    assert _fit(model, "flag", [True, 0, "yes", np.bool_(True)], USER) == [
        True, False, True, True]
    assert "for a boolean column" in _error(model, "flag", "maybe")
    text = "12345678-1234-5678-1234-567812345678"
    assert _fit(model, "token", [text], USER) == [uuid.UUID(text)]
    assert "(does not parse)" in _error(model, "token", "nope")
    assert _fit(model, "doc", [{"a": 1}, [1]], USER) == [{"a": 1}, [1]]
    assert "(a set) for a jsonb column" in _error(model, "doc", {1})
    assert _fit(model, "ratio", [1, 2.5, 1e39], MIMESIS)[:2] == [1, 2.5]
    assert "(not a finite number)" in _error_on(model, "ratio", float("inf"), "mysql")
    assert _fit(model, "tags", [["a"], "{b}"], USER) == [["a"], "{b}"]  # arrays: not checked


def _error_on(model: OrmModel, column: str, value: Any, dialect: str) -> str:
    with pytest.raises(SynthgateError) as info:
        _fit(model, column, [value], USER, dialect=dialect)
    return info.value.one_line()


def test_table_fit(model: OrmModel) -> None:
    table = model.table("users")
    fit = TableFit(table, model, "postgresql", {"city": MIMESIS, "age": USER})
    values: dict[str, list[Any]] = {"city": ["North Plainfield"], "age": [26.43],
                                    "small": [40000]}
    fit.batch(values, np.random.default_rng(0))
    assert values == {"city": ["North Plainfiel"], "age": [26], "small": [40000]}
    given = {"age": "7", "city": "Oslo"}
    rows = [given, {"city": "Rome"}]
    stories = [story_source("s", None), story_source("t", "m")]
    fit.rows(rows, stories, np.random.default_rng(0))
    assert rows == [{"age": 7, "city": "Oslo"}, {"city": "Rome"}]
    assert given == {"age": "7", "city": "Oslo"}  # the story's own dict is left alone
    with pytest.raises(SynthgateError, match=r"story generator m\.t yielded 'North Plainfield'"):
        fit.rows([{"city": "Oslo"}, {"city": "North Plainfield"}], stories,
                 np.random.default_rng(0))


def test_cannot_generate(model: OrmModel) -> None:
    column = model.table("users").column("score")
    line = cannot_generate("users", column, SynthgateError("its checks allow no value")
                           ).one_line()
    assert line.startswith("users.score: nothing can generate values of type integer "
                           "(its checks allow no value)")
    assert "row_generators" in line and "ignore: true" in line
