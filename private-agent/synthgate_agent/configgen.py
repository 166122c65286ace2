"""A first ``config.yaml`` for a source schema: every table listed, commented for a new user.

The text is built from sections (header, tables, src-stats) so that further sections or
proposed entries can be added without touching the others.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from synthgate_shared.config import Bounds, Config, TableConfig
from synthgate_shared.orm import OrmModel, Table
from synthgate_shared.sqltext import readable_sql
from synthgate_shared.yamlio import dump_yaml

from synthgate_agent.proposal import Proposal

_HEADER = """\
# config.yaml: what synthgate reads from the source and how the builder makes the copy.
# Written by `synthgate-agent generate-config` from {origin}.
# A reviewer reads this file before anything leaves the secure network. Edit it, then run
# make-tables, make-stats and make-vocab.
"""

_TABLES_HELP = """\
# tables: one entry per table of the source.
#   ignore: true              leave the table out of the synthetic database altogether.
#   vocabulary_table: true    copy the table verbatim (make-vocab exports every row, so only
#                             for reference data such as countries or languages, never people).
#   num_rows_per_pass: N      rows the builder makes for the table in each pass of create-data.
#   row_generators:           how to fill columns; without one, every column gets a default
#                             generator that obeys its type, length, keys and constraints.
#     For example, to fill actor.first_name with a Mimesis provider:
#       row_generators:
#       - name: generic.person.first_name
#         columns_assigned: first_name
#     `args` and `kwargs` pass arguments, such as
#       - name: generic.person.email
#         kwargs: {domains: [example.com], unique: true}
#         columns_assigned: email
"""

_PROPOSED_HELP = """\
#
# The row_generators below were PROPOSED by generate-config: built-in synthgate.*
# distributions that follow the aggregate statistics in src-stats (frequencies, quantiles,
# correlations, children per parent) and Mimesis providers for names, e-mails, phones and
# addresses (no source value is used for those). Roles come from what each column holds,
# measured by aggregate queries (counts and shares only; without --epsilon): few frequent
# values of any type become categories, numbers and dates kept in text get quantiles
# rendered back in the source's format, known kinds a Mimesis provider, the rest text of
# matching lengths. The comment above a generator gives the facts that decided it.
# Every column keeps the source's NULL share (auto__<table>__profile), whatever fills it;
# `null-share: false` on a row generator leaves its columns' NULLs to the generator.
# Edit or remove any of them; a removed statistic must lose its generator too
# (create-generators names both). `create-data --scale 1` makes as many rows per table as
# the source has: row counts are released exactly, even for tables below min-count.
"""

_SRC_STATS_HELP = """\
# src-stats: aggregate queries that make-stats runs on the source. Only their results leave
# the secure network (in src-stats.yaml, as SRC_STATS["<name>"] for the generators). Counts
# below min-count (default 7) are suppressed. Write aggregates, never row-level queries:
#   src-stats:
#   - name: films_per_rating
#     query: SELECT rating, count(*) AS num FROM film GROUP BY rating
"""


_PROPOSED_STATS_HELP = """\
# The auto__<table>__... entries were PROPOSED by generate-config from the schema alone: each
# is an aggregate query (row and null counts, quantiles, correlations, value frequencies,
# children per parent); none returns a row of the source, and counts below min-count are
# suppressed by make-stats (count-column names the count). Review, edit or delete them.
"""

_DP_STATS_HELP = """\
# With --epsilon the proposals are differentially private: `query` only feeds the table
# query_result inside the agent, and only the noisy result of `dp-query` (SmartNoise SQL)
# is kept. The budget is split evenly and privacy-budget holds the total.
"""


def _table_entry(settings: TableConfig, generators: Sequence[dict[str, Any]] = (),
                 vocabulary: bool = False) -> dict[str, Any]:
    """The settings of one table, with its proposed row generators (``vocabulary``: proposed
    as a vocabulary table)."""
    return {"ignore": settings.ignore,
            "vocabulary_table": settings.vocabulary_table or vocabulary,
            "num_rows_per_pass": settings.num_rows_per_pass, "row_generators": list(generators)}


def _column_note(table: Table) -> str:
    """A comment naming the table's columns and types (what ``columns_assigned`` refers to)."""
    parts = []
    for column in table.columns:
        extra = ", filled by the database" if column.autoincrement else ""
        parts.append(f"{column.name} ({column.type}{extra})")
    text = "columns: " + ", ".join(parts) if parts else "no columns"
    return textwrap.indent(textwrap.fill(text, width=92, subsequent_indent="  "), "    # ") + "\n"


def _comment(text: str, indent: str) -> str:
    """``text`` as YAML comment lines at ``indent``."""
    return textwrap.indent(textwrap.fill(text, width=96 - len(indent), subsequent_indent="  "),
                           indent + "# ") + "\n"


def _with_notes(body: str, generators: Sequence[dict[str, Any]],
                notes: Mapping[str, str]) -> str:
    """The table's YAML body with each generator's note as a comment line above it (the
    items of ``row_generators`` start with ``- name:``, in the order of ``generators``)."""
    if not notes:
        return body
    lines = body.splitlines(keepends=True)
    out: list[str] = []
    items = iter(generators)
    for line in lines:
        stripped = line.lstrip(" ")
        if stripped.startswith("- name:"):
            gen = next(items, None)
            assigned = gen["columns_assigned"] if gen else None
            key = ",".join(assigned) if isinstance(assigned, list) else assigned
            note = notes.get(key or "")
            if note:
                out.append(_comment(note, line[:len(line) - len(stripped)]))
        out.append(line)
    return "".join(out)


def _tables_section(model: OrmModel, proposal: Proposal | None, settings: Config) -> str:
    if not model.tables:
        return _TABLES_HELP + "tables: {}\n"
    generators = proposal.row_generators if proposal else {}
    out = [_TABLES_HELP, _PROPOSED_HELP if any(generators.values()) else "", "tables:\n"]
    for name, table in model.tables.items():
        gens = generators.get(name, ())
        copied = proposal.vocabulary_tables.get(name) if proposal else None
        block = dump_yaml({name: _table_entry(settings.table(name), gens, bool(copied))})
        head, _, body = block.partition("\n")
        out.append(textwrap.indent(head + "\n", "  "))
        out.append(_column_note(table))
        why = copied or (proposal.vocabulary_candidates.get(name) if proposal else None)
        if why:
            out.append(_comment(why, "    "))
        notes = proposal.notes.get(name, {}) if proposal else {}
        out.append(textwrap.indent(_with_notes(body, gens, notes), "  "))
    return "".join(out)


def _src_stats_section(entries: Sequence[dict[str, Any]], dialect: str) -> str:
    if not entries:
        return _SRC_STATS_HELP + "src-stats: []\n"
    dp = any("dp-query" in e for e in entries)
    laid_out = [
        {k: readable_sql(v, dialect) if k == "query" else v for k, v in e.items()}
        for e in entries
    ]
    return (_SRC_STATS_HELP + _PROPOSED_STATS_HELP + (_DP_STATS_HELP if dp else "")
            + dump_yaml({"src-stats": laid_out}))


_ASYNCIO_HELP = """\
# use-asyncio: make-stats runs up to four src-stats queries at once, each on its own read-only
# connection, so that concurrent scans of one table share their reads and the cores of the
# source. Set it to false to spare a busy source.
"""


def _asyncio_section(proposal: Proposal | None) -> str:
    """``use-asyncio: true`` when several statistics are proposed (they scan the same tables)."""
    if proposal is None or len(proposal.src_stats) < 2:
        return ""
    return _ASYNCIO_HELP + dump_yaml({"use-asyncio": True})


def _privacy_section(proposal: Proposal | None, bounds: Mapping[str, Bounds]) -> str:
    """``privacy-budget`` (the total the DP proposals spend) and the ``bounds`` used."""
    data: dict[str, Any] = {}
    if proposal is not None and proposal.epsilon_total > 0:
        data["privacy-budget"] = {"epsilon": proposal.epsilon_total,
                                  "delta": proposal.delta_total}
    if bounds:
        data["bounds"] = {k: {"lower": b.lower, "upper": b.upper} for k, b in bounds.items()}
    if not data:
        return ""
    return ("# privacy-budget: the most epsilon/delta make-stats may spend; bounds: public "
            "bounds\n# of numeric columns for the differentially private histograms.\n"
            + dump_yaml(data))


def render_config(model: OrmModel, proposal: Proposal | None = None,
                  bounds: Mapping[str, Bounds] | None = None,
                  settings: Config | None = None) -> str:
    """The text of a first ``config.yaml`` for ``model``: every table with ``ignore: false``,
    ``vocabulary_table: false`` (true for the tables the proposal copies verbatim, with a
    comment saying so), ``num_rows_per_pass: 1``, and comments for a first-time user.
    With a ``proposal`` (see ``synthgate_agent.propose``) its statistics fill ``src-stats``
    and its generators each table's ``row_generators``, with comments saying that they
    are proposed, aggregate only and editable; otherwise both are empty.
    Several proposed statistics come with ``use-asyncio: true`` (make-stats runs them
    concurrently). ``bounds`` (and the DP budget) are written too; ``settings`` marks tables
    as ignored or vocabulary tables from the start. It loads with ``load_config_text``.
    """
    source = model.source
    origin = f"a {source.dialect} database"
    if source.schema:
        origin += f", schema {source.schema}"
    sections = [
        _HEADER.format(origin=origin),
        _tables_section(model, proposal, settings or Config()),
        # before the src-stats list, so that statistics appended to the file join that list
        _asyncio_section(proposal),
        _src_stats_section(proposal.src_stats if proposal else [], model.source.dialect),
        _privacy_section(proposal, bounds or {}),
    ]
    return "\n".join(s for s in sections if s)
