"""One reading of CHECK constraints and domain checks, for the agent and the builder alike.

The agent's differentially private bounds and the builder's default values both come from
``column_facts``: what the column's domain checks (about ``VALUE``) and the table's checks
(about the column by name) say about that column alone. Checks are parsed with sqlglot in the
source's dialect; only conjuncts (``AND``) of understood shapes give facts::

    facts = column_facts(column, model, table)   # [Fact(">=", Decimal("0")), ...]
    span = numeric_range(facts)                   # Range(lower=0, lower_closed=True, ...)

Understood: comparisons with constants either way round (``0 <= x``), ``BETWEEN``, ``IN``
lists, ``= ANY (ARRAY[...])``, ``x = a OR x = b`` lists, ``<>``, ``length(x)`` bounds and
``x <@ ARRAY[...]``; casts and parentheses around either side are looked through, numbers are
exact ``Decimal`` (``1e3`` is a thousand, ``-5.5`` is negative). Anything else (``OR`` of
ranges, functions, other columns) gives no fact, so the column's normal range applies.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp

from synthgate_shared.orm import Column, OrmModel, Table
from synthgate_shared.sqltext import family


class Fact(NamedTuple):
    """One thing a check says about a column.

    ``op`` is ``>``, ``>=``, ``<``, ``<=``, ``<>`` (value a constant), ``in`` (a list of allowed
    values), ``elements`` (array elements allowed) or ``len>``, ``len>=``, ``len<``, ``len<=``,
    ``len=`` (bounds of ``length(col)``). Compares equal to the plain ``(op, value)`` tuple.
    """

    op: str
    value: Any


@dataclass(frozen=True)
class Range:
    """The numeric interval the facts allow; ``None`` for an end they leave open-ended."""

    lower: Decimal | None = None
    lower_closed: bool = True
    upper: Decimal | None = None
    upper_closed: bool = True


_COMPARISONS: dict[type[exp.Expr], str] = {
    exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=", exp.EQ: "=", exp.NEQ: "<>",
}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "<>": "<>"}
_UNKNOWN = object()


@functools.lru_cache(maxsize=1024)
def _parse(sqltext: str, read: str) -> exp.Expr | None:
    try:
        return sqlglot.parse_one(sqltext, read=read)
    except sqlglot.errors.SqlglotError:
        return None


def _strip(node: exp.Expr) -> exp.Expr:
    """Drop parentheses and casts: ``('G'::text)`` -> ``'G'``."""
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    return node


def _constant(node: exp.Expr) -> Any:
    """The Python value of a literal (numbers as exact ``Decimal``), else ``_UNKNOWN``.

    A string cast to a number is that number: PostgreSQL gives ``-3`` back as
    ``'-3'::integer`` and ``1e3`` as ``'1000'::numeric``.
    """
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.NUMERIC_TYPES):
        inner = _constant(node.this)
        return _number(inner) if isinstance(inner, str) else inner
    node = _strip(node)
    if isinstance(node, exp.Neg):
        inner = _constant(node.this)
        return -inner if isinstance(inner, Decimal) else _UNKNOWN
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return str(node.this) if node.is_string else Decimal(str(node.this))
    return _UNKNOWN


def _number(text: str) -> Any:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return _UNKNOWN
    return value if value.is_finite() else _UNKNOWN


def _constants(nodes: Sequence[exp.Expr]) -> list[Any] | None:
    values = [_constant(n) for n in nodes]
    return None if any(v is _UNKNOWN for v in values) else values


def _array_constants(node: exp.Expr) -> list[Any] | None:
    node = _strip(node)
    return _constants(node.expressions) if isinstance(node, exp.Array) else None


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = _strip(node)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _is_subject(node: exp.Expr, subject: str) -> bool:
    node = _strip(node)
    return isinstance(node, exp.Column) and node.name.lower() == subject.lower()


def _equalities(node: exp.Expr, subject: str) -> list[Any] | None:
    """The constants of ``subject = a OR subject = b ...``, else None."""
    node = _strip(node)
    if isinstance(node, exp.Or):
        left, right = _equalities(node.this, subject), _equalities(node.expression, subject)
        return None if left is None or right is None else left + right
    facts = _understand(node, subject)
    return facts[0].value if len(facts) == 1 and facts[0].op == "in" else None


def _comparison(node: exp.Expr, subject: str) -> list[Fact]:
    """Facts of ``subject <op> constant`` (either way round), ``= ANY (ARRAY[...])`` and
    ``length(subject) <op> constant``."""
    op = _COMPARISONS[type(node)]
    left, right = node.this, node.expression
    if op == "=" and isinstance(_strip(right), exp.Any) and _is_subject(left, subject):
        values = _array_constants(_strip(right).this)
        return [Fact("in", values)] if values is not None else []
    if _is_subject(right, subject) or isinstance(_strip(right), exp.Length):
        left, right, op = right, left, _FLIPPED[op]
    value = _constant(right)
    if value is _UNKNOWN:
        return []
    if _is_subject(left, subject):
        return [Fact("in", [value])] if op == "=" else [Fact(op, value)]
    left = _strip(left)
    if isinstance(left, exp.Length) and _is_subject(left.this, subject):
        return [Fact("len" + op, value)]
    return []


def _listed(node: exp.Expr, subject: str) -> list[Fact]:
    """Facts of ``BETWEEN``, ``IN``, ``<@ ARRAY[...]`` and ``OR`` lists about ``subject``."""
    values: list[Any] | None = None
    if isinstance(node, exp.Between) and _is_subject(node.this, subject):
        low, high = _constant(node.args["low"]), _constant(node.args["high"])
        if low is not _UNKNOWN and high is not _UNKNOWN:
            return [Fact(">=", low), Fact("<=", high)]
    elif isinstance(node, exp.ArrayContainedBy) and _is_subject(node.this, subject):
        values = _array_constants(node.expression)
        return [Fact("elements", values)] if values is not None else []
    elif isinstance(node, exp.In) and _is_subject(node.this, subject):
        values = _constants(node.expressions)
    elif isinstance(node, exp.Or):
        values = _equalities(node, subject)
    return [Fact("in", values)] if values is not None else []


def _understand(node: exp.Expr, subject: str) -> list[Fact]:
    """The facts one conjunct states about ``subject``; [] when it is about anything else."""
    if type(node) in _COMPARISONS:
        return _comparison(node, subject)
    return _listed(node, subject)


def check_facts(sqltext: str, subject: str, dialect: str) -> list[Fact]:
    """The facts one check's text states about ``subject`` (a column name, or ``value`` for
    a domain check), read in ``dialect``; [] for text that does not parse."""
    fam = family(dialect)
    tree = _parse(sqltext, "postgres" if fam == "postgresql" else fam)
    if tree is None:
        return []
    return [fact for part in _conjuncts(tree) for fact in _understand(part, subject)]


def column_facts(column: Column, model: OrmModel, table: Table) -> list[Fact]:
    """What the column's domain checks and the table's checks say about the column alone."""
    dialect = model.source.dialect
    facts: list[Fact] = []
    domain = model.domains.get(column.domain) if column.domain else None
    if domain is not None:
        for check in domain.checks:
            facts.extend(check_facts(check, "value", dialect))
    for table_check in table.checks:
        facts.extend(check_facts(table_check.sqltext, column.name, dialect))
    return facts


def _tighter_lower(span: Range, value: Decimal, closed: bool) -> Range:
    if span.lower is None or value > span.lower or (value == span.lower and not closed):
        return Range(value, closed, span.upper, span.upper_closed)
    return span


def _tighter_upper(span: Range, value: Decimal, closed: bool) -> Range:
    if span.upper is None or value < span.upper or (value == span.upper and not closed):
        return Range(span.lower, span.lower_closed, value, closed)
    return span


def numeric_range(facts: Sequence[Fact]) -> Range:
    """The tightest numeric interval the comparison and ``in`` facts allow (an ``in`` list of
    numbers spans its smallest to its largest value); non-numeric facts are ignored."""
    span = Range()
    for op, value in facts:
        if op == "in" and value and all(isinstance(v, Decimal) for v in value):
            span = _tighter_upper(_tighter_lower(span, min(value), True), max(value), True)
        elif op in (">", ">=") and isinstance(value, Decimal):
            span = _tighter_lower(span, value, op == ">=")
        elif op in ("<", "<=") and isinstance(value, Decimal):
            span = _tighter_upper(span, value, op == "<=")
    return span
