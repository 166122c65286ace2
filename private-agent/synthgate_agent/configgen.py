"""A first ``config.yaml`` for a source schema: every table listed, commented for a new user.

The text is built from sections (header, tables, src-stats) so that further sections or
proposed entries can be added without touching the others.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from synthgate_shared.orm import OrmModel, Table
from synthgate_shared.yamlio import dump_yaml

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

_SRC_STATS_HELP = """\
# src-stats: aggregate queries that make-stats runs on the source. Only their results leave
# the secure network (in src-stats.yaml, as SRC_STATS["<name>"] for the generators). Counts
# below min-count (default 7) are suppressed. Write aggregates, never row-level queries:
#   src-stats:
#   - name: films_per_rating
#     query: SELECT rating, count(*) AS num FROM film GROUP BY rating
"""


def _table_entry() -> dict[str, Any]:
    """The default settings of one table."""
    return {"ignore": False, "vocabulary_table": False, "num_rows_per_pass": 1,
            "row_generators": []}


def _column_note(table: Table) -> str:
    """A comment naming the table's columns and types (what ``columns_assigned`` refers to)."""
    parts = []
    for column in table.columns:
        extra = ", filled by the database" if column.autoincrement else ""
        parts.append(f"{column.name} ({column.type}{extra})")
    text = "columns: " + ", ".join(parts) if parts else "no columns"
    return textwrap.indent(textwrap.fill(text, width=92, subsequent_indent="  "), "    # ") + "\n"


def _tables_section(model: OrmModel) -> str:
    if not model.tables:
        return _TABLES_HELP + "tables: {}\n"
    out = [_TABLES_HELP, "tables:\n"]
    for name, table in model.tables.items():
        block = dump_yaml({name: _table_entry()})
        head, _, body = block.partition("\n")
        out.append(textwrap.indent(head + "\n", "  "))
        out.append(_column_note(table))
        out.append(textwrap.indent(body, "  "))
    return "".join(out)


def _src_stats_section(entries: Sequence[dict[str, Any]]) -> str:
    if not entries:
        return _SRC_STATS_HELP + "src-stats: []\n"
    return _SRC_STATS_HELP + dump_yaml({"src-stats": list(entries)})


def render_config(model: OrmModel) -> str:
    """The text of a first ``config.yaml`` for ``model``: every table with ``ignore: false``,
    ``vocabulary_table: false``, ``num_rows_per_pass: 1``, no row generators, an empty
    ``src-stats`` list, and comments for a first-time user. It loads with ``load_config_text``.
    """
    source = model.source
    origin = f"a {source.dialect} database"
    if source.schema:
        origin += f", schema {source.schema}"
    sections = [
        _HEADER.format(origin=origin),
        _tables_section(model),
        _src_stats_section([]),
    ]
    return "\n".join(sections)
