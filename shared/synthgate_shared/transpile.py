"""SQL text of ``orm.yaml`` across dialects: defaults, checks and domain checks must each be
one pure expression (``parse_expression``: no statement, no subquery, allow-listed functions
only; anything else is refused) and are re-rendered from their sqlglot parse tree for the
destination, also on the same dialect; None when a destination cannot say it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres

from synthgate_shared.errors import SynthgateError
from synthgate_shared.sqltext import family

_SQLGLOT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_LITERALS = (exp.Literal, exp.Boolean, exp.Null)
_TIME_NOW = (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime)


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Paren, exp.Cast)):
        node = node.this
    return node


def _any_to_in(node: exp.Expression) -> exp.Expression:
    """``x = ANY (ARRAY[a, b])`` (how PostgreSQL stores ``x IN (a, b)``) -> ``x IN (a, b)``."""
    if isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any):
        array = _unwrap(node.expression.this)
        if isinstance(array, exp.Array):
            return exp.In(this=node.this, expressions=[_unwrap(e) for e in array.expressions])
    return node


def _strip_literal_cast(node: exp.Expression) -> exp.Expression:
    """``'G'::mpaa_rating`` -> ``'G'``: the column type does the conversion."""
    if isinstance(node, exp.Cast) and isinstance(_unwrap(node), _LITERALS):
        return _unwrap(node)
    return node


# Functions an expression of orm.yaml may call: pure ones, and the current date/time.
_PURE_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    exp.Cast, exp.TryCast, exp.Lower, exp.Upper, exp.Length, exp.Abs, exp.Coalesce,
    exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Trim, exp.Round, exp.Floor,
    exp.Ceil, exp.Greatest, exp.Least, exp.Nullif, exp.Substring, exp.Uuid, exp.RegexpLike,
    exp.RegexpILike, exp.Array, exp.Extract, exp.If, exp.Case,
)
_PURE_NAMES = frozenset({"char_length", "character_length", "octet_length", "now",
                         "json_valid", "btrim", "ltrim", "rtrim"})
# Everything else an expression is built of: operators, names, constants, types.
_PLAIN_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Binary, exp.Unary,
    exp.In, exp.Between, exp.Is, exp.Any, exp.All, exp.DataType, exp.DataTypeParam,
    exp.Tuple, exp.Interval, exp.Var, exp.Bracket,
)


class _PostgresAsWritten(Postgres):
    """PostgreSQL read as written: ``now()`` stays ``now()`` (not ``CURRENT_TIMESTAMP``), so
    a re-rendered expression is the text PostgreSQL itself would store."""

    class Parser(Postgres.Parser):  # type: ignore[misc,valid-type]  # sqlglot's own pattern
        FUNCTIONS: ClassVar[dict[str, Any]] = {
            k: v for k, v in Postgres.Parser.FUNCTIONS.items() if k != "NOW"}


def _dialect(name: str, same: bool) -> str | type[Postgres]:
    """The sqlglot dialect to read (and, when ``same``, write) ``name``'s SQL with."""
    fam = family(name)
    return _PostgresAsWritten if same and fam == "postgresql" else _SQLGLOT[fam]


def _refusal(node: exp.Expr) -> str | None:
    """Why ``node`` may not be part of an expression from orm.yaml (None when it may)."""
    if isinstance(node, exp.Query | exp.Subquery | exp.Exists):
        return "a subquery"
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        return None if name in _PURE_NAMES else f"function {name}()"
    if isinstance(node, exp.Dot):  # schema.function(...)
        return "a qualified name"
    if isinstance(node, (*_PURE_FUNCTIONS, *_PLAIN_NODES)):
        return None
    if isinstance(node, exp.Func):
        return f"function {node.sql_name().lower()}()"
    return f"{node.key} syntax"



def parse_expression(sql: str, dialect: str, what: str, where: str,
                     as_written: bool = False) -> exp.Expr:
    """``sql`` parsed as exactly one pure SQL expression of ``dialect`` (no statement, no
    ``;``, no subquery, only the functions of a small allow-list), to be re-rendered from
    the tree; anything else raises a one-line error naming ``what`` at ``where``.
    ``as_written`` keeps the functions as written, for re-rendering in the same dialect."""
    fix = ("orm.yaml may hold one expression of columns, constants, operators and pure "
           "functions; correct or remove it")
    try:
        trees = [t for t in sqlglot.parse(sql, read=_dialect(dialect, as_written))
                 if t is not None]
    except sqlglot.errors.SqlglotError:
        raise SynthgateError(f"{what} {sql!r} is not one SQL expression", where=where,
                             fix=fix) from None
    if len(trees) != 1:
        raise SynthgateError(f"{what} {sql!r} holds {len(trees)} statements, not one expression",
                             where=where, fix=fix)
    for node in trees[0].walk():
        reason = _refusal(node)
        if reason is not None:
            raise SynthgateError(f"{what} {sql!r} uses {reason}, which is not allowed",
                                 where=where, fix=fix)
    return trees[0]


def transpile_condition(sql: str, source: str, dest: str,
                        rename: Callable[[exp.Expression], exp.Expression] | None = None,
                        where: str = "orm.yaml", what: str = "check") -> str | None:
    """A boolean SQL condition of dialect ``source`` re-rendered for ``dest`` from its parse
    tree (also when the dialects are the same); None if it cannot be translated. Text that
    is not one pure expression (see ``parse_expression``) is refused.

    ``rename`` may replace nodes first (used to put a column name in place of ``VALUE``).
    """
    same = family(source) == family(dest)
    tree = parse_expression(sql, source, what, where, as_written=same)
    if rename is not None:
        tree = tree.transform(rename)
    if not same:
        tree = tree.transform(_any_to_in)
        if tree.find(exp.Array, exp.Any, exp.All):
            return None
    return _render(tree, dest, same)


def _render(tree: exp.Expr, dest: str, same: bool) -> str | None:
    """SQL text of ``tree`` in ``dest`` (comments dropped); None when ``dest`` cannot say
    it. In the same dialect functions keep their lower-case names, as databases store them."""
    try:
        return tree.sql(dialect=_dialect(dest, same), unsupported_level=sqlglot.ErrorLevel.RAISE,
                        normalize_functions="lower" if same else "upper", comments=False)
    except sqlglot.errors.UnsupportedError:
        return None


def _needs_parens(sql: str) -> bool:
    try:
        node = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return True
    return not isinstance(node, (*_LITERALS, exp.Neg, exp.CurrentTimestamp))


def transpile_default(sql: str, source: str, dest: str, where: str = "orm.yaml") -> str | None:
    """A column default of dialect ``source`` re-rendered from its parse tree as SQL valid in
    ``dest``; across dialects None if it is not a constant or the current date/time (those
    are the only defaults carried across). Text that is not one pure expression is refused."""
    dest_family = family(dest)
    same = family(source) == dest_family
    tree = parse_expression(sql, source, "default", where, as_written=same)
    if not same:
        tree = _unwrap(tree.transform(_strip_literal_cast))
        value = tree.this if isinstance(tree, exp.Neg) else tree
        if not isinstance(value, (*_LITERALS, *_TIME_NOW)):
            return None
    out = _render(tree, dest, same)
    if out is None:
        return None
    if dest_family in ("sqlite", "mysql") and _needs_parens(out) and not out.startswith("("):
        out = f"({out})"  # SQLite and MariaDB want expression defaults in parentheses
    return out
