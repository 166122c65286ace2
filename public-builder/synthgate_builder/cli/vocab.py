"""Builder commands: create-vocab and remove-vocab (the verbatim vocabulary tables)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import typer
from synthgate_shared.cli import parse_size
from synthgate_shared.db import mask_dsn

from synthgate_builder.cli.app import (
    DsnOption,
    SchemaOption,
    YesOption,
    app,
    destination_engine,
    with_inputs,
)
from synthgate_builder.inputs import BuilderInputs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@app.command("create-vocab")
@with_inputs(vocab=True)
def create_vocab(
    inputs: BuilderInputs,
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    max_vocab_size: int | None = typer.Option(
        None, "--max-vocab-size", metavar="SIZE", parser=parse_size,
        help="Largest decompressed size of one vocabulary file, e.g. 20G (default: 200 times "
        "its compressed size, at least 64M). A bundle's recorded sizes must fit it too."),
    max_vocab_line: int | None = typer.Option(
        None, "--max-vocab-line", metavar="SIZE", parser=parse_size,
        help="Longest line (one row) of a vocabulary file, e.g. 256M (default: 64M)."),
) -> None:
    """Load every vocabulary table from its <table>.yaml[.gz] file (parents first, one
    transaction, COPY on PostgreSQL), then move sequences past the loaded keys."""
    from synthgate_shared.vocabfile import VocabLimits

    from synthgate_builder.vocab import load_vocab

    limits = VocabLimits(max_bytes=max_vocab_size)
    if max_vocab_line is not None:
        limits = dataclasses.replace(limits, line_bytes=max_vocab_line)
    loaded = load_vocab(destination_engine(dsn), inputs.orm, inputs.config, inputs.vocab_files,
                        schema, limits, inputs.vocab_sizes, inputs.vocab_labels)
    for name, rows in loaded.items():
        typer.echo(f"loaded {name}: {rows} rows")
    if not loaded:
        typer.echo("the config marks no table as vocabulary_table: true; nothing to load")


@app.command("remove-vocab")
@with_inputs()
def remove_vocab_command(
    inputs: BuilderInputs,
    yes: bool = YesOption,
    with_data: bool = typer.Option(False, "--with-data", help="First delete the generated "
                                   "rows of the tables that refer to the vocabulary tables."),
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
) -> None:
    """Delete every row of the vocabulary tables, children first (asks unless --yes); with
    --with-data, or when asked and rows of other tables refer to them (the question names
    those tables, as SqlSynthGen's tutorials expect), the generated rows that refer first."""
    from synthgate_builder.vocab import remove_vocab, tables_referring_to

    engine = destination_engine(dsn)
    names = ", ".join(inputs.config.vocabulary_tables()) or "none"
    referring = tables_referring_to(inputs.orm, inputs.config) if with_data else set()
    if not yes and not with_data:  # asked anyway: the question names the rows that refer
        referring = _with_rows(engine, tables_referring_to(inputs.orm, inputs.config), schema)
    if not yes:
        also = f" and of the tables referring to them ({', '.join(sorted(referring))})" \
            if referring else ""
        typer.confirm(f"Delete every row of the vocabulary tables ({names}){also} in "
                      f"{mask_dsn(engine.url)}?", abort=True)
    if referring:
        from synthgate_builder.populate import remove_data

        deleted = remove_data(engine, inputs.orm, inputs.config, schema, only=referring)
        typer.echo(f"deleted {sum(deleted.values())} rows from {len(deleted)} tables "
                   "referring to the vocabulary")
    removed = remove_vocab(engine, inputs.orm, inputs.config, schema)
    for name, rows in removed.items():
        typer.echo(f"removed {name}: {rows} rows")


def _with_rows(engine: Engine, tables: set[str], schema: str | None) -> set[str]:
    """The tables of ``tables`` that exist in the destination and hold rows."""
    import sqlalchemy as sa

    present = set(sa.inspect(engine).get_table_names(schema=schema))
    with engine.connect() as conn:
        return {t for t in tables if t in present and conn.execute(
            sa.select(sa.literal(1)).select_from(sa.table(t, schema=schema)).limit(1)
        ).first() is not None}
