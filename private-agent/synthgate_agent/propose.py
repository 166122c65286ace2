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
from typing import Any

from synthgate_shared import srcstats
from synthgate_shared.config import Config
from synthgate_shared.errors import SynthgateError
from synthgate_shared.fidelity import TEXT_DATE_FORMATS, stat_name
from synthgate_shared.orm import ForeignKey, OrmModel, Table

from synthgate_agent.measure import TableFacts
from synthgate_agent.proposal import Proposal, gen_entry, stat_entry
from synthgate_agent.propose_dp import DEFAULT_DP_DELTA, dp_table, split_budget
from synthgate_agent.propose_roles import Col, role_of, unique_known
from synthgate_agent.propose_sql import (
    SAMPLE_ROWS,
    Sql,
    alias_ok,
    children_query,
    copula_columns,
    profile_query,
)
from synthgate_agent.propose_vocab import (
    candidate_comment,
    proposed_comment,
    proposed_vocabulary,
    vocabulary_reason,
    with_vocabulary,
)


def _fk_columns(table: Table, model: OrmModel, config: Config) -> list[ForeignKey]:
    """Foreign keys whose parent is generated or loaded (not ignored, not missing)."""
    return [fk for fk in table.foreign_keys
            if fk.ref_table in model.tables and not config.table(fk.ref_table).ignore]

def _pairs(categories: list[Col], rows: int | None = None, min_count: int = 0
           ) -> tuple[list[tuple[Col, Col]], list[Col]]:
    """Neighbouring low-cardinality columns paired for joint frequencies; the rest alone.

    With measured value counts and the table's ``rows``, a pair is only made when its cells
    average at least ``min_count`` rows (sparser joint counts would mostly be suppressed)."""
    def fits(a: Col, b: Col) -> bool:
        if rows is None or a.values is None or b.values is None:
            return True
        return a.values * b.values * min_count <= rows

    pairs: list[tuple[Col, Col]] = []
    single: list[Col] = []
    i = 0
    while i < len(categories):
        if i + 1 < len(categories) and fits(categories[i], categories[i + 1]):
            pairs.append((categories[i], categories[i + 1]))
            i += 2
        else:
            single.append(categories[i])
            i += 1
    return pairs, single


def _profile_comment(sql: Sql, min_count: int) -> str:
    """What the profile statistic releases, for the reviewer."""
    comment = ("row count, null counts, quantiles and correlations of the whole table"
               if sql.dialect != "postgresql" else
               f"exact row and null counts; quantiles and correlations exact up to about "
               f"{SAMPLE_ROWS:,} rows (PostgreSQL's estimate), above that from a repeatable "
               f"Bernoulli sample of about {SAMPLE_ROWS:,} rows (standard error of each "
               f"quantile's probability at most {0.5 / math.sqrt(SAMPLE_ROWS):.4f})")
    return comment + (
        f". min-count 0: the row count is structural and released exactly even below "
        f"{min_count} rows (noisy under --epsilon); quantiles and correlations of a "
        f"table with fewer than {min_count} rows come back NULL")


def _note(notes: dict[str, str], columns: list[Col]) -> None:
    """Keep the role notes of the columns one generator fills."""
    text = "; ".join(f"{c.name}: {c.note}" if len(columns) > 1 else c.note
                     for c in columns if c.note)
    if text:
        notes[",".join(c.name for c in columns)] = text


def _categories(sql: Sql, table: Table, cols: list[Col], proposal: Proposal, min_count: int,
                rows: int | None) -> None:
    """Frequencies of each category column, joint ones for the pairs that fit, and their
    generators."""
    tname, count = sql.table(table.name), srcstats.COUNT
    gens, notes = proposal.row_generators[table.name], proposal.notes[table.name]
    categories = [c for c in cols if c.role == "category"]
    for col in categories:
        name = stat_name(table.name, col.name, "freq")
        q = sql.q(col.name)
        proposal.src_stats.append(stat_entry(
            name, f"SELECT {q}, count(*) AS {count} FROM {tname} GROUP BY {q}",
            count_column=count))
    pairs, single = _pairs(categories, rows, min_count)
    for a, b in pairs:
        name = stat_name(table.name, a.name, b.name, "joint")
        qa, qb = sql.q(a.name), sql.q(b.name)
        proposal.src_stats.append(stat_entry(
            name, f"SELECT {qa}, {qb}, count(*) AS {count} FROM {tname} GROUP BY {qa}, {qb}",
            count_column=count))
        gens.append(gen_entry("synthgate.joint_categorical", name, [a.name, b.name]))
        _note(notes, [a, b])
    for col in single:
        gens.append(gen_entry("synthgate.categorical", stat_name(table.name, col.name, "freq"),
                               [col.name]))
        _note(notes, [col])


def _column_generator(col: Col, profile: str) -> dict[str, Any] | None:
    """The generator of one column read from the profile (or a known provider), if any."""
    if col.role == "text" and alias_ok(srcstats.length_quantiles(col.name)):
        return gen_entry("synthgate.text_length", profile, [col.name])
    if col.role == "known" and col.provider:
        return gen_entry(col.provider, None, [col.name])
    if col.role == "number_text" and alias_ok(srcstats.quantiles(col.name)):
        width = {"width": col.width} if col.width else {}
        return gen_entry("synthgate.quantiles", profile, [col.name], places=col.places or 0,
                         **width)
    if col.role == "date_text" and alias_ok(srcstats.quantiles(col.name)):
        return gen_entry("synthgate.quantiles", profile, [col.name],
                         date_format=TEXT_DATE_FORMATS[col.pattern or "date"])
    return None


def _profile_generators(table: Table, cols: list[Col], profile: str,
                        proposal: Proposal) -> None:
    """The copula (or quantiles) of the numeric columns and each column's own generator."""
    gens, notes = proposal.row_generators[table.name], proposal.notes[table.name]
    numeric = copula_columns(cols)
    if len(numeric) >= 2:
        gens.append(gen_entry("synthgate.gaussian_copula", profile, [c.name for c in numeric]))
    elif numeric:
        gens.append(gen_entry("synthgate.quantiles", profile, [numeric[0].name]))
    for col in cols:
        entry = _column_generator(col, profile)
        if entry is not None:
            gens.append(entry)
            _note(notes, [col])


def _plain_table(sql: Sql, table: Table, cols: list[Col], fks: list[ForeignKey],
                 proposal: Proposal, min_count: int, rows: int | None = None) -> None:
    """Plain aggregate statistics (small counts suppressed by ``make-stats``; the profile's
    row count is released even when small, its quantiles only from ``min_count`` rows)."""
    profile = stat_name(table.name, "profile")
    proposal.src_stats.append(stat_entry(
        profile, profile_query(sql, table, cols, fks, min_count), count_column=srcstats.COUNT,
        min_count=0, comment=_profile_comment(sql, min_count)))
    proposal.row_count_stats[table.name] = profile
    gens = proposal.row_generators.setdefault(table.name, [])
    proposal.notes.setdefault(table.name, {})
    _categories(sql, table, cols, proposal, min_count, rows)
    _profile_generators(table, cols, profile, proposal)
    for fk in fks:
        name = stat_name(table.name, *fk.columns, "children")
        query = children_query(sql, table, fk)
        proposal.src_stats.append(stat_entry(name, query, count_column=srcstats.COUNT))
        gens.append(gen_entry("synthgate.children_per_parent", name, list(fk.columns)))


def propose(model: OrmModel, config: Config, epsilon: float | None = None,
            delta: float | None = None,
            facts: dict[str, TableFacts] | None = None, vocabulary: bool = False) -> Proposal:
    """Propose aggregate statistics and generators for every generated table (pure).

    With ``facts`` (``synthgate_agent.measure``) the roles come from what each column
    holds, each generator's deciding facts land in ``Proposal.notes`` and small tables that
    look like reference data (``synthgate_agent.propose_vocab``) are proposed as vocabulary
    tables in ``Proposal.vocabulary_tables`` (with ``vocabulary`` and no ``epsilon``; those
    whose parents are generated, or all without ``vocabulary``, stay
    ``Proposal.vocabulary_candidates``); without facts, roles come from the schema alone.
    Ignored and vocabulary tables get nothing. Without ``epsilon`` every query
    is a plain aggregate (``count-column: n`` lets ``make-stats`` suppress small counts); with
    ``epsilon`` the counts, frequencies and histograms become SmartNoise ``dp-query``
    entries sharing the budget evenly, and every numeric column needs public bounds
    (schema or ``config.bounds``), else a SynthgateError names the column.
    """
    if epsilon is not None and epsilon <= 0:
        raise SynthgateError("--epsilon must be greater than 0", fix="give for example 1.0")
    if delta is not None and not 0 <= delta < 1:
        raise SynthgateError("--delta must be at least 0 and below 1", fix="give for example 1e-5")
    sql = Sql(model.source.dialect)
    proposal = Proposal()
    if facts and vocabulary and epsilon is None:
        chosen = proposed_vocabulary(model, config, facts)
        config = with_vocabulary(config, chosen)
        proposal.vocabulary_tables = {t: proposed_comment(r) for t, r in chosen.items()}
    for table in model.tables.values():
        settings = config.table(table.name)
        if settings.ignore or settings.vocabulary_table:
            continue
        fks = _fk_columns(table, model, config)
        skip = {c for fk in table.foreign_keys for c in fk.columns}
        skip.update(table.primary_key)
        skip.update(u.columns[0] for u in table.unique if len(u.columns) == 1)
        measured = (facts or {}).get(table.name)
        cols = [c for c in (role_of(table, col, model, skip, measured) for col in table.columns)
                if c]
        # a unique text column of a known kind still gets its provider
        cols += [c for c in (unique_known(table, col, measured) for col in table.columns
                             if col.name in skip) if c]
        proposal.num_rows[table.name] = None
        if measured is not None:
            reason = vocabulary_reason(table, model, measured)
            if reason:
                proposal.vocabulary_candidates[table.name] = candidate_comment(reason)
        if epsilon is None:
            _plain_table(sql, table, cols, fks, proposal, config.min_count,
                         measured.rows if measured else None)
        else:
            dp_table(sql, table, cols, fks, model, config, proposal)
    if epsilon is not None:
        split_budget(proposal, epsilon, DEFAULT_DP_DELTA if delta is None else delta)
    else:  # dependent dates and children fallbacks: plain aggregates only
        from synthgate_agent.propose_order import add_order_statistics

        add_order_statistics(sql, model, config, proposal, facts)
    return proposal
