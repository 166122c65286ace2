"""Builder commands ``create-tables`` and ``remove-tables``."""

from __future__ import annotations

from pathlib import Path

import typer
from synthgate_shared.db import mask_dsn
from synthgate_shared.orm import OrmModel, load_orm

from synthgate_builder.cli.app import (
    BundleOption,
    DsnOption,
    OrmOption,
    RequireApprovalOption,
    SchemaOption,
    TrustOption,
    YesOption,
    app,
    destination_engine,
)
from synthgate_builder.inputs import load_inputs


def _orm_model(bundle: Path | None, trust: list[Path] | None,
               require_approval: list[Path] | None, orm_file: Path) -> OrmModel:
    """The schema model: from the verified bundle, or from orm.yaml alone (no config needed)."""
    if bundle is None and not require_approval:
        return load_orm(orm_file)
    with load_inputs(bundle, trust or [], require_approval or [], Path("config.yaml"), orm_file,
                     Path("src-stats.yaml"), Path("vocab")) as inputs:
        return inputs.orm


@app.command("create-tables")
def create_tables_command(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    bundle: Path | None = BundleOption,
    trust: list[Path] | None = TrustOption,
    require_approval: list[Path] | None = RequireApprovalOption,
    orm_file: Path = OrmOption,
) -> None:
    """Create the tables of orm.yaml (with their types, keys and constraints) in the
    destination database. Refuses when any of them already exists."""
    from synthgate_builder.tables import create_tables

    model = _orm_model(bundle, trust, require_approval, orm_file)
    created = create_tables(destination_engine(dsn), model, schema)
    typer.echo(f"created {len(created)} tables: {', '.join(created)}")


@app.command("remove-tables")
def remove_tables_command(
    dsn: str = DsnOption,
    schema: str | None = SchemaOption,
    bundle: Path | None = BundleOption,
    trust: list[Path] | None = TrustOption,
    require_approval: list[Path] | None = RequireApprovalOption,
    orm_file: Path = OrmOption,
    yes: bool = YesOption,
) -> None:
    """Drop the tables named in orm.yaml (and the enums and domains it created) from the
    destination database; no other table is touched. Asks first unless --yes."""
    from synthgate_builder.tables import remove_tables

    model = _orm_model(bundle, trust, require_approval, orm_file)
    engine = destination_engine(dsn)
    if not yes:
        typer.confirm(f"Drop the {len(model.tables)} tables of orm.yaml from "
                      f"{mask_dsn(engine.url)}?", abort=True)
    dropped = remove_tables(engine, model, schema)
    typer.echo(f"removed {len(dropped)} tables" + (f": {', '.join(dropped)}" if dropped else ""))
