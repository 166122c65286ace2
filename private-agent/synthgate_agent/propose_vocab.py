"""Small reference tables proposed as vocabulary tables (copied verbatim) by generate-config.

A table is reference-like when it is small (at most ``VOCABULARY_MAX_ROWS`` rows, measured),
other tables refer to it by foreign keys, and no column looks personal (by its name, or by
e-mail-like values). Such a table cannot be generated faithfully from statistics: its rows
are fewer than min-count, so every frequency is suppressed (Pagila's 6 languages would all
share one ``last_update``). Those whose own foreign keys point only at tables copied too
(a copied row must find its parent) are marked ``vocabulary_table: true`` with
``generate-config --propose-vocabulary``; otherwise (the default: copying rows verbatim is a
reviewer's decision) every reference-like table is a candidate, named in a comment.
"""

from __future__ import annotations

from synthgate_shared.config import Config, TableConfig
from synthgate_shared.orm import OrmModel, Table

from synthgate_agent.measure import TableFacts
from synthgate_agent.propose_roles import VALUE_SHARE, looks_personal

VOCABULARY_MAX_ROWS = 200  # small tables referred to by foreign keys: vocabulary candidates


def _referrers(table: Table, model: OrmModel) -> list[str]:
    return sorted({f"{t.name}.{','.join(fk.columns)}" for t in model.tables.values()
                   for fk in t.foreign_keys
                   if fk.ref_table == table.name and t.name != table.name})


def vocabulary_reason(table: Table, model: OrmModel, facts: TableFacts) -> str | None:
    """Why a table looks like reference data worth copying verbatim: small, referred to by
    foreign keys, no personal-looking column (by name or e-mail-like values); else None."""
    referrers = _referrers(table, model)
    if not referrers or facts.rows > VOCABULARY_MAX_ROWS:
        return None
    if any(looks_personal(c.name) for c in table.columns) or any(
            f.shares.get("email", 0.0) >= VALUE_SHARE for f in facts.columns.values()):
        return None
    shown = ", ".join(referrers[:3]) + (", ..." if len(referrers) > 3 else "")
    return f"{facts.rows} rows, referred to by {shown}, no personal-looking column"


def proposed_vocabulary(model: OrmModel, config: Config,
                        facts: dict[str, TableFacts]) -> dict[str, str]:
    """The reference-like tables (``vocabulary_reason``) to copy verbatim, with that reason:
    not ignored, not already marked, and every foreign key of theirs pointing at a table
    that is copied too (vocabulary in ``config`` or proposed here)."""
    reasons = {name: reason for name, table in model.tables.items()
               if not config.table(name).ignore and not config.table(name).vocabulary_table
               and name in facts and (reason := vocabulary_reason(table, model, facts[name]))}
    chosen = dict(reasons)
    changed = True
    while changed:  # drop tables whose parents are generated, until none is left to drop
        changed = False
        for name in list(chosen):
            parents = {fk.ref_table for fk in model.tables[name].foreign_keys} - {name}
            if any(p not in chosen and not config.table(p).vocabulary_table for p in parents):
                del chosen[name]
                changed = True
    return chosen


def with_vocabulary(config: Config, tables: dict[str, str]) -> Config:
    """``config`` with ``tables`` marked ``vocabulary_table: true`` (their other settings
    kept)."""
    marked = {name: (config.tables.get(name) or TableConfig()).model_copy(
        update={"vocabulary_table": True}) for name in tables}
    return config.model_copy(update={"tables": {**config.tables, **marked}})


def candidate_comment(reason: str) -> str:
    """The config comment of a candidate left generated."""
    return (f"vocabulary candidate: {reason}; `vocabulary_table: true` (or generate-config "
            "--propose-vocabulary) would copy it verbatim (make-vocab) instead of generating it")


def proposed_comment(reason: str) -> str:
    """The config comment of a table proposed as a vocabulary table."""
    return (f"PROPOSED vocabulary table: {reason}. make-vocab copies EVERY ROW of it "
            "verbatim into the bundle (listed in the review); generated from statistics, a "
            "table this small loses most of its values to min-count suppression. To generate "
            "it instead, set "
            "`vocabulary_table: false` and rerun generate-config without --propose-vocabulary "
            "(which proposes its statistics)")
