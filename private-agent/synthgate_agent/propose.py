"""Proposed aggregate statistics and the built-in generators that consume them (issue 6).

``propose(model, config, facts=...)`` decides each column's role from the measured facts of
``synthgate_agent.measure`` (counts and shares, never values; without them from the schema
alone) and returns, for every table that is neither ignored nor a vocabulary table, plain
aggregate ``src-stats`` entries and the ``row_generators`` wired to the builder's built-in
distributions, with the facts behind each generator as notes. Everything it proposes is
written into ``config.yaml``, so the reviewer sees every query.

Statistic names follow ``auto__<table>__<what>``:

* ``auto__<t>__profile`` — one row (``min-count: 0``: the row count is released even for a
  table below min-count, whose quantiles and correlations come back NULL): ``n`` (row
  count), ``<c>__nonnull`` per nullable column (the builder keeps every column's NULL
  share), quantiles ``<c>__q`` of numbers and dates (epoch seconds; also of numbers and
  dates kept in text), quantiles ``<c>__len_q`` of text lengths, and ``<a>__<b>__corr``
  (PostgreSQL) or ``<a>__<b>__moments`` (others: ``count,Σa,Σb,Σa²,Σb²,Σab``) per numeric pair. On
  PostgreSQL the counts come from one parallel scan and the quantiles and correlations from
  a repeatable Bernoulli sample of about ``SAMPLE_ROWS`` rows (the whole table when
  ``pg_class.reltuples`` says it is smaller or does not know): sorting every value of a
  large table once per column costs tens of scans;
* ``auto__<t>__<c>__freq`` — value frequencies of a low-cardinality column;
* ``auto__<t>__<a>__<b>__joint`` — joint frequencies of a pair of such columns;
* ``auto__<t>__<fk columns>__children`` — how many parents have k children (the children
  are counted per key by one GROUP BY before the join with the parents);
* with ``epsilon``: ``auto__<t>__<c>__histogram`` — equal-width bins between public bounds.

On PostgreSQL quantiles are ``percentile_cont`` arrays aligned with ``QUANTILE_PROBS``;
elsewhere they come from ``NTILE(100)`` as a text ``"percent:value,..."``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import QUANTILE_PROBS, TEXT_DATE_FORMATS, stat_name
from synthgate_shared.orm import Column, ForeignKey, OrmModel, Table
from synthgate_shared.types import INTEGER_RANGES, PortableType

from synthgate_agent.measure import TOP_K, ColumnFacts, TableFacts, text_matches
from synthgate_agent.privacy import as_written

HISTOGRAM_BINS = 20
DEFAULT_TEXT_LENGTH_CAP = 200  # DP text-length histograms clip here unless bounds say otherwise
DEFAULT_DP_DELTA = 1e-5
MAX_DP_CHILDREN = 100  # children per parent are clipped here in differentially private counts
MAX_ALIAS = 60  # PostgreSQL truncates identifiers at 63 bytes, MariaDB at 64
# Quantiles and correlations of larger PostgreSQL tables come from a sample of about this many
# rows: the standard error of each quantile's probability is at most 0.5 / sqrt(SAMPLE_ROWS).
SAMPLE_ROWS = 100_000
SAMPLE_SEED = 0

# Column-name stems of text columns better filled by a Mimesis provider than from the source,
# and whether the kind is personal (never proposed as categories, whatever the data holds).
KNOWN_KINDS: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (("first_name", "firstname", "given_name", "forename"), "generic.person.first_name", True),
    (("last_name", "lastname", "surname", "family_name"), "generic.person.last_name", True),
    (("full_name", "fullname", "person_name", "customer_name", "contact_name"),
     "generic.person.full_name", True),
    (("email", "e_mail", "email_address", "mail"), "generic.person.email", True),
    (("phone", "phone_number", "telephone", "mobile", "fax", "tel"), "generic.person.telephone",
     True),
    (("username", "user_name", "login", "nickname"), "generic.person.username", True),
    (("password", "passwd"), "generic.person.password", True),
    (("address", "address1", "address2", "street", "street_address", "address_line1",
      "address_line2"), "generic.address.address", True),
    (("ip", "ip_address", "ipv4"), "generic.internet.ip_v4", True),
    (("city", "town"), "generic.address.city", False),
    (("postcode", "post_code", "postal_code", "zip", "zipcode", "zip_code"),
     "generic.address.postal_code", False),
    (("country",), "generic.address.country", False),
    (("state", "province", "county"), "generic.address.state", False),
    (("region",), "generic.address.region", False),
    (("continent",), "generic.address.continent", False),
    (("url", "website", "homepage", "web_site", "link"), "generic.internet.url", False),
    (("company", "company_name", "organisation", "organization", "employer"),
     "generic.finance.company", False),
    (("occupation", "job", "job_title", "profession"), "generic.person.occupation", False),
    (("nationality",), "generic.person.nationality", False),
)
# Providers for text whose values (not its name) show the kind, by pattern of measure.PATTERNS.
VALUE_KINDS: dict[str, str] = {"email": "generic.person.email", "url": "generic.internet.url"}
# Roles from the measured facts: a column is categorical when it has at most MAX_CATEGORIES
# values and those with >= min-count rows cover a share of its rows (the rest never
# appears: at most 1 - that share of TVD); text holds numbers or dates when PARSE_SHARE
# of its values parse; VALUE_SHARE of values matching a pattern picks a provider.
MAX_CATEGORIES = 50
CATEGORY_SHARE = 0.5  # plain text: the alternative, placeholder text, matches no value at all
KIND_CATEGORY_SHARE = 0.8  # a known kind (city, country...): its Mimesis provider is the other
NUMBER_CATEGORY_SHARE = 0.9  # numbers keep their quantiles (and correlations) unless nearly all
PARSE_SHARE = 0.99
VALUE_SHARE = 0.9
VOCABULARY_MAX_ROWS = 200  # small tables referred to by foreign keys: vocabulary candidates
_CODE_NAME = re.compile(r"(^|_)(type|code|status|kind|category|class|flag|level|grade)$")
_BOUND = re.compile(
    r"(?P<lhs>\"?[A-Za-z_]\w*\"?)\s*(?P<op>>=|<=|>|<)\s*\(?\s*(?P<num>-?\d+(?:\.\d+)?)")

_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": postgresql.dialect,
    "sqlite": sqlite.dialect,
    "mysql": mysql.dialect,
    "mariadb": mysql.dialect,
    "duckdb": postgresql.dialect,  # DuckDB quotes, and spells these aggregates, as PostgreSQL
}


@dataclass
class Proposal:
    """What ``propose`` suggests: config-shaped ``src-stats`` entries and the generators.

    ``row_generators[table]`` are config-shaped ``{name, kwargs, columns_assigned}``;
    ``num_rows[table]`` is None (the count is known after ``make-stats``: the ``n`` of the
    statistic named in ``row_count_stats[table]``). ``epsilon_total``/``delta_total`` are the
    budget spent by the DP entries (0 without ``epsilon``).
    """

    src_stats: list[dict[str, Any]] = field(default_factory=list)
    row_generators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    num_rows: dict[str, int | None] = field(default_factory=dict)
    row_count_stats: dict[str, str] = field(default_factory=dict)
    epsilon_total: float = 0.0
    delta_total: float = 0.0
    # table -> columns_assigned joined by "," -> the measured facts behind that generator
    notes: dict[str, dict[str, str]] = field(default_factory=dict)
    # table -> why it looks like a vocabulary table (a comment; never switched on)
    vocabulary_candidates: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Col:
    """A column with the role the proposal gives it."""

    column: Column
    role: str  # category, number, temporal, text, known, number_text, date_text
    provider: str | None = None
    note: str | None = None  # the measured facts that decided the role (a config comment)
    places: int | None = None  # number_text: decimal places to render
    pattern: str | None = None  # date_text: which of measure.PATTERNS the values match
    values: int | None = None  # category: the measured number of distinct values

    @property
    def name(self) -> str:
        return self.column.name


def src_stats_ref(name: str) -> str:
    """How a generator's kwargs refer to a statistic (SqlSynthGen style)."""
    return f'SRC_STATS["{name}"]'


def _known_kind(column_name: str) -> tuple[str, bool] | None:
    name = column_name.lower()
    for stems, provider, personal in KNOWN_KINDS:
        for stem in stems:
            if name == stem or name.endswith("_" + stem):
                return provider, personal
    return None


def known_provider(column_name: str) -> str | None:
    """The Mimesis provider for a column whose name names a known kind of value, else None."""
    kind = _known_kind(column_name)
    return kind[0] if kind else None


def looks_personal(column_name: str) -> bool:
    """Whether a column's name names a personal kind of value (names, e-mails, phones...)."""
    kind = _known_kind(column_name)
    return bool(kind and kind[1]) or "birth" in column_name.lower()


def _role(table: Table, column: Column, model: OrmModel, skip: set[str],
          facts: TableFacts | None = None) -> _Col | None:
    """Decide how a column is proposed: from the measured ``facts`` when there are some
    (see ``_measured_role``), else from its type and name alone."""
    if column.name in skip or column.autoincrement:
        return None
    ptype: PortableType = column.portable
    if ptype.is_array:
        return None
    base = ptype.base
    name = column.name.lower()
    if base in ("boolean", "enum"):
        return _Col(column, "category")
    measured = facts.columns.get(column.name) if facts else None
    if measured is not None and facts is not None:
        return _measured_role(column, measured, facts)
    if base in ("char", "varchar", "text"):
        provider = known_provider(name)
        if provider:
            return _Col(column, "known", provider)
        if ptype.length is not None and ptype.length <= 12:
            return _Col(column, "category")
        return _Col(column, "text")
    if base in INTEGER_RANGES and _CODE_NAME.search(name):
        return _Col(column, "category")
    if base in ("smallint", "integer", "bigint", "real", "double", "numeric"):
        return _Col(column, "number")
    if base in ("date", "timestamp", "timestamptz"):
        return _Col(column, "temporal")
    return None  # time, interval, uuid, json, bytea, tsvector: the builder's defaults


def _unique_known(table: Table, column: Column, facts: TableFacts | None) -> _Col | None:
    """A unique text column (not a key) of a known kind, by name or by measured values."""
    if column.name in table.primary_key or column.portable.base not in ("char", "varchar",
                                                                         "text") \
            or any(column.name in fk.columns for fk in table.foreign_keys):
        return None
    provider = known_provider(column.name)
    if provider:
        return _Col(column, "known", provider)
    measured = facts.columns.get(column.name) if facts else None
    for pattern, provider in VALUE_KINDS.items():
        if measured is not None and measured.shares.get(pattern, 0.0) >= VALUE_SHARE:
            return _Col(column, "known", provider, note=f"unique; "
                        f"{_pct(measured.shares[pattern])} of the values match {pattern}")
    return None


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%" if share < 0.995 or share == 1 else f"{100 * share:.1f}%"


def _category_note(f: ColumnFacts, min_count: int) -> str:
    if f.frequent == f.distinct:
        return f"{f.distinct} distinct value(s), all >= {min_count} rows"
    return (f"{f.distinct} distinct values, {f.frequent} with >= {min_count} rows cover "
            f"{_pct(f.frequent_share or 0.0)} of the rows (the rarer ones never appear)")


def _measured_role(column: Column, f: ColumnFacts, facts: TableFacts) -> _Col | None:
    """The role the measured facts give a column: categories for few frequent values of
    any text or number type, numbers or dates kept in text as quantiles, a Mimesis
    provider for a known kind (by name, or by values such as e-mail addresses), and
    length-matched text for the rest."""
    base = column.portable.base
    sample = (f" (a sample of {facts.measured:,} of {facts.rows:,} rows)" if facts.sampled
              else "")
    if f.nonnull == 0:
        return _Col(column, "empty", note="every value is NULL" + sample)
    kind = _known_kind(column.name)
    personal = bool(kind and kind[1])
    text = base in ("char", "varchar", "text")
    number = base in (*INTEGER_RANGES, "real", "double", "numeric")
    share = NUMBER_CATEGORY_SHARE if number else KIND_CATEGORY_SHARE if kind else CATEGORY_SHARE
    if text and f.max_length == 0:  # only empty strings: nothing personal to keep out
        return _Col(column, "category", note="every non-NULL value is the empty string" + sample)
    if ((text or number) and not personal and f.distinct is not None
            and f.distinct <= MAX_CATEGORIES and f.frequent
            and (f.frequent_share or 0.0) >= share):
        return _Col(column, "category", note=_category_note(f, facts.min_count) + sample,
                    values=f.distinct)
    if number:
        return _Col(column, "number")
    if not text:
        return _Col(column, "temporal")
    if kind:
        return _Col(column, "known", kind[0], note=f"known kind by name; {f.distinct} distinct "
                    f"value(s), {_pct(1 - f.nonnull / max(facts.measured, 1))} NULL" + sample)
    for pattern, provider in VALUE_KINDS.items():
        if f.shares.get(pattern, 0.0) >= VALUE_SHARE:
            return _Col(column, "known", provider, note=f"{_pct(f.shares[pattern])} of the "
                        f"values look like {'e-mail addresses' if pattern == 'email' else 'URLs'}"
                        + sample)
    if f.shares.get("number", 0.0) >= PARSE_SHARE:
        places = f.places or 0
        what = "integers" if not places else f"numbers with up to {places} decimal places"
        return _Col(column, "number_text", places=places, note=f"text holding {what}: "
                    f"{_pct(f.shares['number'])} of the values parse" + sample)
    for pattern in TEXT_DATE_FORMATS:
        if f.shares.get(pattern, 0.0) >= PARSE_SHARE:
            return _Col(column, "date_text", pattern=pattern, note=f"text holding dates "
                        f"({TEXT_DATE_FORMATS[pattern]}): {_pct(f.shares[pattern])} of the values "
                        "parse" + sample)
    return _Col(column, "text", note=f"free text: {f.distinct} distinct values, "
                f"{_pct(f.top_share or 0.0)} of the rows hold the {TOP_K} commonest" + sample
                if f.top_share is not None else f"free text: {f.distinct} distinct values"
                + sample)


class _Sql:
    """SQL fragments for one source dialect, with identifiers quoted for it."""

    def __init__(self, dialect: str) -> None:
        factory = _DIALECTS.get(dialect)
        if factory is None:
            raise SynthgateError(
                f"cannot propose statistics for a {dialect!r} source",
                where="orm.yaml: source.dialect",
                fix="use PostgreSQL, MariaDB/MySQL, SQLite or DuckDB",
            )
        self.dialect = "mysql" if dialect == "mariadb" else dialect
        self._preparer = factory().identifier_preparer
        # percentile_cont(ARRAY[...]), corr() and extract(epoch ...) as on PostgreSQL
        self.pg_functions = self.dialect in ("postgresql", "duckdb")

    def q(self, name: str) -> str:
        """A quoted identifier."""
        return str(self._preparer.quote_identifier(name))

    def table(self, name: str) -> str:
        """A quoted table name; never schema-qualified, because ``make-stats`` (and the
        builder's report) select the schema for the connection."""
        return self.q(name)

    def numeric(self, col: _Col, prefix: str = "") -> str:
        """The column as a number: dates and timestamps as epoch seconds."""
        ref = prefix + self.q(col.name)
        if col.role == "number_text":
            kind = {"postgresql": "numeric", "sqlite": "REAL"}.get(self.dialect, "DOUBLE")
            return (f"CAST(CASE WHEN {text_matches(self.dialect, ref, 'number')} THEN {ref} "
                    f"END AS {kind})")
        if col.role == "date_text":
            ref = f"CASE WHEN {text_matches(self.dialect, ref, col.pattern or 'date')} THEN " \
                  f"{ref} END"
            if self.dialect == "postgresql":
                ref = f"CAST({ref} AS timestamp)"
        elif col.role != "temporal":
            return ref
        if self.pg_functions:
            return f"extract(epoch from {ref})"
        if self.dialect == "sqlite":
            return f"CAST(strftime('%s', {ref}) AS INTEGER)"
        return f"TIMESTAMPDIFF(SECOND, '1970-01-01', {ref})"

    def length(self, col: _Col) -> str:
        """The length in characters of a text column."""
        fn = "length" if self.dialect == "sqlite" else "char_length"
        return f"{fn}({self.q(col.name)})"

    def quantiles(self, expr: str, table: str) -> str:
        """An aggregate (or scalar subquery) giving the quantiles of ``expr``."""
        if self.pg_functions:
            probs = ", ".join(str(p) for p in QUANTILE_PROBS)
            return f"percentile_cont(ARRAY[{probs}]) WITHIN GROUP (ORDER BY {expr})"
        buckets = ", ".join(str(round(p * 100)) for p in QUANTILE_PROBS)
        if self.dialect == "sqlite":
            pair = "b || ':' || v"
            agg = f"group_concat({pair}, ',')"
        else:
            agg = "GROUP_CONCAT(CONCAT(b, ':', v) ORDER BY b SEPARATOR ',')"
        return (
            f"(SELECT {agg} FROM (SELECT b, max(x) AS v FROM (SELECT {expr} AS x, "
            f"NTILE(100) OVER (ORDER BY {expr}) AS b FROM {table} WHERE {expr} IS NOT NULL) s "
            f"GROUP BY b HAVING b IN ({buckets})) s2)"
        )

    def correlation(self, a: str, b: str) -> tuple[str, str]:
        """(alias suffix, aggregate) giving the correlation of two numeric expressions."""
        if self.pg_functions:
            return "corr", f"corr({a}, {b})"
        both = f"CASE WHEN {a} IS NOT NULL AND {b} IS NOT NULL THEN 1.0 END"
        parts = [f"count({both})", f"sum({both} * {a})", f"sum({both} * {b})",
                 f"sum({both} * {a} * {a})", f"sum({both} * {b} * {b})",
                 f"sum({both} * {a} * {b})"]
        if self.dialect == "sqlite":
            return "moments", " || ',' || ".join(parts)
        return "moments", "CONCAT_WS(',', " + ", ".join(parts) + ")"


def _alias_ok(alias: str) -> bool:
    return len(alias.encode()) <= MAX_ALIAS


def _stat(name: str, query: str, *, count_column: str | None, min_count: int | None = None,
          comment: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "query": query}
    if count_column:
        entry["count-column"] = count_column
    if min_count is not None:
        entry["min-count"] = min_count
    if comment:
        entry["comments"] = [comment]
    return entry


def _generator(name: str, stat: str | None, columns: list[str],
               **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"stats": src_stats_ref(stat)} if stat else {}
    args.update(kwargs)
    entry: dict[str, Any] = {"name": name}
    if args:
        entry["kwargs"] = args
    entry["columns_assigned"] = columns[0] if len(columns) == 1 else columns
    return entry


def _fk_columns(table: Table, model: OrmModel, config: Config) -> list[ForeignKey]:
    """Foreign keys whose parent is generated or loaded (not ignored, not missing)."""
    return [fk for fk in table.foreign_keys
            if fk.ref_table in model.tables and not config.table(fk.ref_table).ignore]


def _children_per_parent(sql: _Sql, table: Table, fk: ForeignKey) -> tuple[str, str]:
    """(FROM clause, expression): every parent row ``p`` with its number of children.

    The children are counted per key by one GROUP BY before the join, so the join meets one
    row per parent rather than every child; children whose key matches no parent (or holds
    a NULL) count for no parent, as in a join of the rows."""
    child_keys = ", ".join(sql.q(c) for c in fk.columns)
    present = " AND ".join(f"{sql.q(c)} IS NOT NULL" for c in fk.columns)
    on = " AND ".join(f"c.{sql.q(c)} = p.{sql.q(r)}" for c, r in
                      zip(fk.columns, fk.ref_columns, strict=True))
    source = (f"{sql.table(fk.ref_table)} p LEFT JOIN (SELECT {child_keys}, count(*) AS "
              f"n_children FROM {sql.table(table.name)} WHERE {present} GROUP BY {child_keys}) c "
              f"ON {on}")
    return source, "COALESCE(c.n_children, 0)"


def _children_query(sql: _Sql, table: Table, fk: ForeignKey) -> str:
    source, count = _children_per_parent(sql, table, fk)
    return f"SELECT {count} AS n_children, count(*) AS n FROM {source} GROUP BY {count}"


def _sample_percent(sql: _Sql, table: Table) -> str:
    """The TABLESAMPLE percentage that keeps about ``SAMPLE_ROWS`` rows: decided by the
    database from its own row estimate (100, the whole table, when it has none)."""
    regclass = sql.table(table.name).replace("'", "''")
    # max(): a row even when the name resolves to nothing; a bare subquery: what sqlglot reads
    return (f"(SELECT coalesce(max(least(100, 100 * {SAMPLE_ROWS} / greatest(reltuples, 1))), "
            f"100) FROM pg_class WHERE oid = to_regclass('{regclass}'))")


def _profile_query(sql: _Sql, table: Table, cols: list[_Col], fks: list[ForeignKey],
                   min_count: int) -> str:
    """Exact row and null counts of every nullable column (the builder keeps each column's
    NULL share whatever fills it), and the shapes (quantiles, correlations) that only a
    table with at least ``min_count`` rows releases (NULL below: its profile is kept, for
    the row count, while its values stay withheld)."""
    counts = ["count(*) AS n"]  # exact, from every row
    shapes: list[str] = []  # quantiles and correlations: from a sample on PostgreSQL
    tname = sql.table(table.name)
    counted: set[str] = set()

    def nonnull(column: Column) -> None:
        alias = f"{column.name}__nonnull"
        if column.name not in counted and _alias_ok(alias):
            counted.add(column.name)
            # NOT NULL: the row count, and count(*) spares reading the column from every row
            what = sql.q(column.name) if column.nullable else "*"
            counts.append(f"count({what}) AS {sql.q(alias)}")

    def shape(expr: str, alias: str) -> None:
        shapes.append(f"CASE WHEN count(*) >= {int(min_count)} THEN {expr} END AS "
                      f"{sql.q(alias)}")

    for fk in fks:  # how many children have no parent (the builder keeps that share NULL)
        if len(fk.columns) == 1 and table.column(fk.columns[0]).nullable:
            nonnull(table.column(fk.columns[0]))
    for col in cols:
        nonnull(col.column)
        if col.role in ("number", "temporal", "number_text", "date_text") \
                and _alias_ok(f"{col.name}__q"):
            shape(sql.quantiles(sql.numeric(col), tname), col.name + "__q")
        if col.role == "text" and _alias_ok(f"{col.name}__len_q"):
            shape(sql.quantiles(sql.length(col), tname), col.name + "__len_q")
    fk_columns = {c for fk in table.foreign_keys for c in fk.columns}
    for column in table.columns:  # the other nullable columns: default generators
        if column.nullable and column.name not in fk_columns and not column.autoincrement:
            nonnull(column)
    numeric = _copula_columns(cols)
    for i, a in enumerate(numeric):
        for b in numeric[i + 1:]:
            suffix, expr = sql.correlation(sql.numeric(a), sql.numeric(b))
            alias = f"{a.name}__{b.name}__{suffix}"
            if _alias_ok(alias):
                shape(expr, alias)
    if sql.dialect != "postgresql" or not shapes:
        return "SELECT " + ", ".join(counts + shapes) + f" FROM {tname}"
    # Ordered-set aggregates sort every value they see and keep the scan serial; the counts
    # stay exact in a parallel scan of their own.
    return (f"SELECT * FROM (SELECT {', '.join(counts)} FROM {tname}) counts CROSS JOIN "
            f"(SELECT {', '.join(shapes)} FROM {tname} TABLESAMPLE BERNOULLI "
            f"({_sample_percent(sql, table)}) REPEATABLE ({SAMPLE_SEED})) shapes")


def _copula_columns(cols: list[_Col]) -> list[_Col]:
    return [c for c in cols if c.role in ("number", "temporal")
            and _alias_ok(f"{c.name}__q")]


def _pairs(categories: list[_Col], rows: int | None = None, min_count: int = 0
           ) -> tuple[list[tuple[_Col, _Col]], list[_Col]]:
    """Neighbouring low-cardinality columns paired for joint frequencies; the rest alone.

    With measured value counts and the table's ``rows``, a pair is only made when its cells
    average at least ``min_count`` rows (sparser joint counts would mostly be suppressed)."""
    def fits(a: _Col, b: _Col) -> bool:
        if rows is None or a.values is None or b.values is None:
            return True
        return a.values * b.values * min_count <= rows

    pairs: list[tuple[_Col, _Col]] = []
    single: list[_Col] = []
    i = 0
    while i < len(categories):
        if i + 1 < len(categories) and fits(categories[i], categories[i + 1]):
            pairs.append((categories[i], categories[i + 1]))
            i += 2
        else:
            single.append(categories[i])
            i += 1
    return pairs, single


def _plain_table(sql: _Sql, table: Table, cols: list[_Col], fks: list[ForeignKey],
                 proposal: Proposal, min_count: int, rows: int | None = None) -> None:
    """Plain aggregate statistics (small counts suppressed by ``make-stats``; the profile's
    row count is released even when small, its quantiles only from ``min_count`` rows)."""
    tname = sql.table(table.name)
    profile = stat_name(table.name, "profile")
    comment = ("row count, null counts, quantiles and correlations of the whole table"
               if sql.dialect != "postgresql" else
               f"exact row and null counts; quantiles and correlations exact up to about "
               f"{SAMPLE_ROWS:,} rows (PostgreSQL's estimate), above that from a repeatable "
               f"Bernoulli sample of about {SAMPLE_ROWS:,} rows (standard error of each "
               f"quantile's probability at most {0.5 / math.sqrt(SAMPLE_ROWS):.4f})")
    comment += (f". min-count 0: the row count is structural and released exactly even below "
                f"{min_count} rows (noisy under --epsilon); quantiles and correlations of a "
                f"table with fewer than {min_count} rows come back NULL")
    proposal.src_stats.append(_stat(
        profile, _profile_query(sql, table, cols, fks, min_count), count_column="n",
        min_count=0, comment=comment))
    proposal.row_count_stats[table.name] = profile
    gens = proposal.row_generators.setdefault(table.name, [])
    notes = proposal.notes.setdefault(table.name, {})

    def note(columns: list[_Col]) -> None:
        text = "; ".join(f"{c.name}: {c.note}" if len(columns) > 1 else c.note
                         for c in columns if c.note)
        if text:
            notes[",".join(c.name for c in columns)] = text
    categories = [c for c in cols if c.role == "category"]
    for col in categories:
        name = stat_name(table.name, col.name, "freq")
        q = sql.q(col.name)
        proposal.src_stats.append(_stat(
            name, f"SELECT {q}, count(*) AS n FROM {tname} GROUP BY {q}", count_column="n"))
    pairs, single = _pairs(categories, rows, min_count)
    for a, b in pairs:
        name = stat_name(table.name, a.name, b.name, "joint")
        qa, qb = sql.q(a.name), sql.q(b.name)
        proposal.src_stats.append(_stat(
            name, f"SELECT {qa}, {qb}, count(*) AS n FROM {tname} GROUP BY {qa}, {qb}",
            count_column="n"))
        gens.append(_generator("synthgate.joint_categorical", name, [a.name, b.name]))
        note([a, b])
    for col in single:
        gens.append(_generator("synthgate.categorical", stat_name(table.name, col.name, "freq"),
                               [col.name]))
        note([col])
    numeric = _copula_columns(cols)
    if len(numeric) >= 2:
        gens.append(_generator("synthgate.gaussian_copula", profile, [c.name for c in numeric]))
    elif numeric:
        gens.append(_generator("synthgate.quantiles", profile, [numeric[0].name]))
    for col in cols:
        if col.role == "text" and _alias_ok(f"{col.name}__len_q"):
            gens.append(_generator("synthgate.text_length", profile, [col.name]))
        elif col.role == "known" and col.provider:
            gens.append(_generator(col.provider, None, [col.name]))
        elif col.role == "number_text" and _alias_ok(f"{col.name}__q"):
            gens.append(_generator("synthgate.quantiles", profile, [col.name],
                                   places=col.places or 0))
        elif col.role == "date_text" and _alias_ok(f"{col.name}__q"):
            gens.append(_generator("synthgate.quantiles", profile, [col.name],
                                   date_format=TEXT_DATE_FORMATS[col.pattern or "date"]))
        else:
            continue
        note([col])
    for fk in fks:
        name = stat_name(table.name, *fk.columns, "children")
        proposal.src_stats.append(_stat(name, _children_query(sql, table, fk), count_column="n"))
        gens.append(_generator("synthgate.children_per_parent", name, list(fk.columns)))


def _schema_bounds(table: Table, column: Column, model: OrmModel) -> tuple[float, float] | None:
    """Bounds from check constraints, the column's domain, or its exact type."""
    lower: float | None = None
    upper: float | None = None
    texts = [c.sqltext for c in table.checks]
    names = {column.name.lower()}
    if column.domain and column.domain in model.domains:
        texts += model.domains[column.domain].checks
        names.add("value")
    for text in texts:
        for m in _BOUND.finditer(text):
            if m["lhs"].strip('"').lower() not in names:
                continue
            num = float(m["num"])
            if m["op"].startswith(">"):
                lower = num if lower is None else max(lower, num)
            else:
                upper = num if upper is None else min(upper, num)
    ptype = column.portable
    if ptype.base == "smallint":
        lo, hi = INTEGER_RANGES["smallint"]
        lower, upper = (lo if lower is None else lower), (hi if upper is None else upper)
    if ptype.base == "numeric" and len(ptype.params) == 2:
        limit = 10 ** (ptype.params[0] - ptype.params[1]) - 10 ** -ptype.params[1]
        lower = -limit if lower is None else lower
        upper = limit if upper is None else upper
    if lower is None or upper is None or upper <= lower:
        return None
    return lower, upper


def _bounds(table: Table, col: _Col, model: OrmModel, config: Config,
            what: str) -> tuple[float, float]:
    key = f"{table.name}.{col.name}"
    given = config.bounds.get(key)
    if given is not None:
        if given.upper <= given.lower:
            raise SynthgateError(f"bounds of {key} have upper <= lower",
                                 where="config.yaml: bounds")
        return given.lower, given.upper
    if col.role == "text":
        length = col.column.portable.length
        return 0.0, float(length or DEFAULT_TEXT_LENGTH_CAP)
    found = _schema_bounds(table, col.column, model) if col.role == "number" else None
    if found is None:
        raise SynthgateError(
            f"column {key} needs public bounds for a differentially private {what}",
            where="config.yaml: bounds",
            fix=f"write them in a file's bounds: section (for example bounds: {{{key}: "
            "{lower: 0, upper: 100}}) and pass it with --bounds-from; dates and times in "
            "seconds since 1970; never the source's own min/max",
        )
    return found


def _metadata(table: Table, sql_columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """SmartNoise metadata of ``query_result``: the primary key as private id when it is one
    column, otherwise one row per individual."""
    meta: dict[str, Any] = {"max_ids": 1}
    if len(table.primary_key) == 1:
        meta["row_privacy"] = False
        meta[table.primary_key[0]] = {"type": _sn_type(table.column(table.primary_key[0])),
                                      "private_id": True}
    else:
        meta["row_privacy"] = True
    meta.update(sql_columns)
    return meta


def _sn_type(column: Column) -> str:
    base = column.portable.base
    if base in INTEGER_RANGES:
        return "int"
    if base in ("real", "double", "numeric"):
        return "float"
    if base == "boolean":
        return "boolean"
    if base in ("date", "timestamp", "timestamptz"):
        return "datetime"
    return "string"


def _dp_table(sql: _Sql, table: Table, cols: list[_Col], fks: list[ForeignKey],
              model: OrmModel, config: Config, proposal: Proposal) -> None:
    """Counts, frequencies and histograms through SmartNoise: ``query`` only feeds
    ``query_result`` inside the agent; what is kept is the noisy ``dp-query`` result."""
    tname = sql.table(table.name)
    pk = [sql.q(c) for c in table.primary_key[:1]] if len(table.primary_key) == 1 else []
    select_pk = (", ".join(pk) + ", ") if pk else ""
    gens = proposal.row_generators.setdefault(table.name, [])

    def add(name: str, query: str, dp_query: str, columns: dict[str, dict[str, Any]]) -> None:
        proposal.src_stats.append({"name": name, "query": query, "dp-query": dp_query,
                                   "snsql-metadata": _metadata(table, columns)})

    profile = stat_name(table.name, "profile")
    add(profile, f"SELECT {pk[0] if pk else '1 AS one'} FROM {tname}",
        "SELECT COUNT(*) AS n FROM query_result", {})
    proposal.row_count_stats[table.name] = profile
    for col in cols:
        q = sql.q(col.name)
        if col.role == "category":
            name = stat_name(table.name, col.name, "freq")
            add(name, f"SELECT {select_pk}{q} FROM {tname}",
                # SmartNoise reads query_result by plain column names, unquoted
                f"SELECT {col.name}, COUNT(*) AS n FROM query_result GROUP BY {col.name}",
                {col.name: {"type": _sn_type(col.column), "nullable": col.column.nullable}})
            gens.append(_generator("synthgate.categorical", name, [col.name]))
        elif col.role in ("number", "temporal", "text"):
            what = "length histogram" if col.role == "text" else "histogram"
            lower, upper = _bounds(table, col, model, config, what)
            expr = sql.length(col) if col.role == "text" else sql.numeric(col)
            width = (upper - lower) / HISTOGRAM_BINS
            binned = (f"CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} <= {lower} THEN 0 "
                      f"WHEN {expr} >= {upper} THEN {HISTOGRAM_BINS - 1} "
                      f"ELSE CAST(FLOOR(({expr} - {lower}) / {width!r}) AS INTEGER) END")
            name = stat_name(table.name, col.name, "histogram")
            add(name, f"SELECT {select_pk}{binned} AS bin FROM {tname}",
                "SELECT bin, COUNT(*) AS n FROM query_result GROUP BY bin",
                {"bin": {"type": "int", "lower": 0, "upper": HISTOGRAM_BINS - 1,
                         "nullable": True}})
            kind = "synthgate.text_length" if col.role == "text" else "synthgate.quantiles"
            gens.append(_generator(kind, name, [col.name], lower=lower, upper=upper,
                                   bins=HISTOGRAM_BINS))
        elif col.role == "known" and col.provider:
            gens.append(_generator(col.provider, None, [col.name]))
    for fk in fks:
        keys = ", ".join(f"p.{sql.q(r)}" for r in fk.ref_columns)
        name = stat_name(table.name, *fk.columns, "children")
        parent = model.tables[fk.ref_table]
        source, count = _children_per_parent(sql, table, fk)
        # clipped to a public cap: SmartNoise needs bounds for every numeric column
        query = (f"SELECT {keys}, CASE WHEN {count} > {MAX_DP_CHILDREN} THEN {MAX_DP_CHILDREN} "
                 f"ELSE {count} END AS n_children FROM {source}")
        meta: dict[str, Any] = {"max_ids": 1, "row_privacy": True,
                                "n_children": {"type": "int", "lower": 0,
                                               "upper": MAX_DP_CHILDREN}}
        if len(fk.ref_columns) == 1 and fk.ref_columns == parent.primary_key:
            meta["row_privacy"] = False
            meta[fk.ref_columns[0]] = {"type": _sn_type(parent.column(fk.ref_columns[0])),
                                       "private_id": True}
        proposal.src_stats.append({
            "name": name, "query": query,
            "dp-query": "SELECT n_children, COUNT(*) AS n FROM query_result GROUP BY n_children",
            "snsql-metadata": meta})
        gens.append(_generator("synthgate.children_per_parent", name, list(fk.columns)))


def _share(total: float, parts: int) -> float:
    """``total / parts``, lowered to the float below where needed so that ``parts`` of it
    never exceed ``total`` as make-stats adds them (the numbers as written in the config)."""
    each = total / parts
    while each > 0 and as_written(each) * parts > as_written(total):
        each = math.nextafter(each, 0.0)
    return each


def _split_budget(proposal: Proposal, epsilon: float, delta: float) -> None:
    dp = [s for s in proposal.src_stats if "dp-query" in s]
    if not dp:
        return
    each_eps, each_delta = _share(epsilon, len(dp)), _share(delta, len(dp))
    for entry in dp:
        entry["epsilon"] = each_eps
        entry["delta"] = each_delta
        entry["comments"] = [f"differentially private: epsilon {each_eps:.6g}, delta "
                             f"{each_delta:.3g} ({len(dp)} proposals share epsilon {epsilon:g})"]
        if entry["name"].endswith("__profile"):
            entry["comments"].append("the row count: structural, released for every table "
                                     "however small, as a noisy count")
    proposal.epsilon_total, proposal.delta_total = epsilon, delta


def _vocabulary_reason(table: Table, model: OrmModel, facts: TableFacts) -> str | None:
    """Why a table looks like reference data worth copying verbatim: small, referred to by
    foreign keys, no personal-looking column (by name or e-mail-like values); else None."""
    referrers = sorted({f"{t.name}.{','.join(fk.columns)}" for t in model.tables.values()
                        for fk in t.foreign_keys
                        if fk.ref_table == table.name and t.name != table.name})
    if not referrers or facts.rows > VOCABULARY_MAX_ROWS:
        return None
    if any(looks_personal(c.name) for c in table.columns) or any(
            f.shares.get("email", 0.0) >= VALUE_SHARE for f in facts.columns.values()):
        return None
    shown = ", ".join(referrers[:3]) + (", ..." if len(referrers) > 3 else "")
    return (f"vocabulary candidate: {facts.rows} rows, referred to by {shown}, no "
            "personal-looking column; `vocabulary_table: true` would copy it verbatim "
            "(make-vocab) instead of generating it")


def propose(model: OrmModel, config: Config, epsilon: float | None = None,
            delta: float | None = None,
            facts: dict[str, TableFacts] | None = None) -> Proposal:
    """Propose aggregate statistics and generators for every generated table (pure).

    With ``facts`` (``synthgate_agent.measure``) the roles come from what each column
    holds, each generator's deciding facts land in ``Proposal.notes`` and small tables that
    look like reference data in ``Proposal.vocabulary_candidates``; without, from the
    schema alone. Ignored and vocabulary tables get nothing. Without ``epsilon`` every query
    is a plain aggregate (``count-column: n`` lets ``make-stats`` suppress small counts); with
    ``epsilon`` the counts, frequencies and histograms become SmartNoise ``dp-query``
    entries sharing the budget evenly, and every numeric column needs public bounds
    (schema or ``config.bounds``), else a SynthgateError names the column.
    """
    if epsilon is not None and epsilon <= 0:
        raise SynthgateError("--epsilon must be greater than 0", fix="give for example 1.0")
    if delta is not None and not 0 <= delta < 1:
        raise SynthgateError("--delta must be at least 0 and below 1", fix="give for example 1e-5")
    sql = _Sql(model.source.dialect)
    proposal = Proposal()
    for table in model.tables.values():
        settings = config.table(table.name)
        if settings.ignore or settings.vocabulary_table:
            continue
        fks = _fk_columns(table, model, config)
        skip = {c for fk in table.foreign_keys for c in fk.columns}
        skip.update(table.primary_key)
        skip.update(u.columns[0] for u in table.unique if len(u.columns) == 1)
        measured = (facts or {}).get(table.name)
        cols = [c for c in (_role(table, col, model, skip, measured) for col in table.columns)
                if c]
        # a unique text column of a known kind still gets its provider
        cols += [c for c in (_unique_known(table, col, measured) for col in table.columns
                             if col.name in skip) if c]
        proposal.num_rows[table.name] = None
        if measured is not None:
            reason = _vocabulary_reason(table, model, measured)
            if reason:
                proposal.vocabulary_candidates[table.name] = reason
        if epsilon is None:
            _plain_table(sql, table, cols, fks, proposal, config.min_count,
                         measured.rows if measured else None)
        else:
            _dp_table(sql, table, cols, fks, model, config, proposal)
    if epsilon is not None:
        _split_budget(proposal, epsilon, DEFAULT_DP_DELTA if delta is None else delta)
    else:  # dependent dates and children fallbacks: plain aggregates only
        from synthgate_agent.propose_order import add_order_statistics

        add_order_statistics(sql, model, config, proposal, facts)
    return proposal
