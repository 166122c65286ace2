"""Builder commands ``create-tables`` and ``remove-tables``."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import Engine
from synthgate_shared.db import create_engine_for, mask_dsn, parse_dsn
from synthgate_shared.orm import OrmModel, load_orm

from synthgate_builder.cli.app import DsnOption, OrmOption, SchemaOption, YesOption, app
from synthgate_builder.tables import create_tables, remove_tables


def _orm_model(orm_file: Path) -> OrmModel:
    """The one place the builder's table commands obtain the model (switch to the
    --bundle loader of synthgate_builder.inputs here)."""
    return load_orm(orm_file)


def _engine(dsn: str) -> Engine:
    return create_engine_for(parse_dsn(dsn, "DST_DSN"))


@app.command("create-tables")
def create_tables_command(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    orm_file: Path = OrmOption,
) -> None:
    """Create the tables of orm.yaml (with their types, keys and constraints) in the
    destination database. Refuses when any of them already exists."""
    model = _orm_model(orm_file)
    created = create_tables(_engine(dsn), model, schema)
    typer.echo(f"created {len(created)} tables: {', '.join(created)}")


@app.command("remove-tables")
def remove_tables_command(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    orm_file: Path = OrmOption,
    yes: bool = YesOption,
) -> None:
    """Drop the tables named in orm.yaml (and the enums and domains it created) from the
    destination database; no other table is touched. Asks first unless --yes."""
    model = _orm_model(orm_file)
    engine = _engine(dsn)
    if not yes:
        typer.confirm(f"Drop the {len(model.tables)} tables of {orm_file} from "
                      f"{mask_dsn(engine.url)}?", abort=True)
    dropped = remove_tables(engine, model, schema)
    typer.echo(f"removed {len(dropped)} tables" + (f": {', '.join(dropped)}" if dropped else ""))
