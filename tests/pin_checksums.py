"""Pinned create-data output: one checksum per table, per database and destination dialect.

For each database of ``tests/fidelity_eval.DATASETS`` (Pagila, Chinook, bank, shop, loaded into
PostgreSQL by their ``load.sh``), the zero-config flow's files are made once through the CLIs
(``fidelity_eval.prepare_files``: generate-config, make-tables, make-stats, create-generators,
make-vocab), then create-tables, create-vocab and create-data --seed 1 --scale 1 run from them
into PostgreSQL, MariaDB and SQLite. Each destination table is read whole and its rows
rendered canonically (:func:`render`), sorted, and hashed: equal tables give equal checksums
whatever the order the database returns them in. The golden values live in
``tests/data/pinned/<db>-<dialect>.json`` (drivers return different Python types per
dialect, so each dialect has its own file).

When generation changes on purpose, regenerate them (about two minutes)::

    .venv/bin/python tests/pin_checksums.py --update     # or
    SYNTHGATE_UPDATE_PINS=1 .venv/bin/pytest tests/test_pinned_checksums.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import hashlib
import json
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fidelity_eval as fe
from conftest import (
    PG_ADMIN,
    _maria_create,
    _maria_drop,
    _new_name,
    _pg_create,
    _pg_drop,
)

PINNED = Path(__file__).resolve().parent / "data" / "pinned"
DIALECTS = ("postgresql", "mariadb", "sqlite")
SEED = 1


def render(value: Any) -> str:
    """One value as text, the same for the same value of the same Python type."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        return "b:" + bytes(value).hex()
    if isinstance(value, float):
        return "f:" + repr(value)
    if isinstance(value, decimal.Decimal):
        return "d:" + str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return type(value).__name__[0] + ":" + value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{render(v)}" for k, v in sorted(value.items())) + "}"
    return type(value).__name__ + ":" + str(value)


def checksums(url: str) -> dict[str, str]:
    """Table name -> sha256 of its rows (columns in name order, rows rendered and sorted) and
    its row count, for every table of the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        out: dict[str, str] = {}
        with engine.connect() as conn:
            for table in sorted(meta.tables.values(), key=lambda t: t.name):
                columns = sorted(table.columns, key=lambda c: c.name)
                rows = sorted("\t".join(render(v) for v in row)
                              for row in conn.execute(sa.select(*columns)))
                digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
                out[table.name] = f"{len(rows)}:{digest}"
        return out
    finally:
        engine.dispose()


@contextmanager
def destination(dialect: str, folder: Path) -> Iterator[str]:
    """A new, empty database of ``dialect`` (dropped afterwards)."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / f'pin_{uuid.uuid4().hex[:8]}.db'}"
        return
    create: Callable[[str], str]
    drop: Callable[[str], None]
    create, drop = (_pg_create, _pg_drop) if dialect == "postgresql" else (
        _maria_create, _maria_drop)
    name = _new_name("sgtest")
    url = create(name)
    try:
        yield url
    finally:
        drop(name)


def sort_results(work: Path) -> None:
    """Sort every query's result rows in ``work``/src-stats.yaml. The agent's queries have no
    ORDER BY, and PostgreSQL groups enum values in an order that follows their type's OIDs,
    new in each loaded copy of a database: sorted, the same source gives the same statistics."""
    path = work / "src-stats.yaml"
    stats = yaml.safe_load(path.read_text())
    for entry in stats.values():
        if isinstance(entry, dict) and isinstance(entry.get("results"), list):
            entry["results"].sort(key=lambda row: json.dumps(row, sort_keys=True, default=str))
    path.write_text(yaml.safe_dump(stats, sort_keys=False, allow_unicode=True))


@contextmanager
def flow(name: str, folder: Path) -> Iterator[Path]:
    """Load ``name`` into a new PostgreSQL database (dropped afterwards) and make the flow's
    files from it (``fe.prepare_files``, results sorted by :func:`sort_results`); the folder
    with config.yaml, orm.yaml, src-stats.yaml and ssg.py."""
    source_db = _new_name(f"sgpin_{name}")
    source = fe.load_dataset(name, PG_ADMIN, source_db)
    try:
        work = folder / name
        fe.prepare_files(source, work, sort_results)
        yield work
    finally:
        _pg_drop(source_db)


def build(work: Path, dialect: str) -> dict[str, str]:
    """create-tables, create-vocab and create-data --seed 1 --scale 1 from ``work`` into a new
    database of ``dialect``; its tables' checksums."""
    with destination(dialect, work) as url:
        fe._create_tables(work, url)
        fe.create_data(work, url, SEED)
        return checksums(url)


def golden_path(name: str, dialect: str) -> Path:
    """Where the pinned checksums of ``name`` created in ``dialect`` are kept."""
    return PINNED / f"{name}-{dialect}.json"


def save(name: str, dialect: str, sums: dict[str, str]) -> None:
    """Write the golden file of ``name`` in ``dialect``."""
    PINNED.mkdir(parents=True, exist_ok=True)
    golden_path(name, dialect).write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n")


def load(name: str, dialect: str) -> dict[str, str]:
    """The golden checksums of ``name`` in ``dialect``."""
    loaded: dict[str, str] = json.loads(golden_path(name, dialect).read_text())
    return loaded


def main() -> int:
    """Regenerate every golden file (--update) or compare with them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help="write the golden files")
    parser.add_argument("--only", nargs="*", default=list(fe.DATASETS),
                        help="databases to run (default: all)")
    args = parser.parse_args()
    differ = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            with flow(name, Path(folder)) as work:
                for dialect in DIALECTS:
                    sums = build(work, dialect)
                    if args.update:
                        save(name, dialect, sums)
                    elif sums != load(name, dialect):
                        differ += 1
                    print(name, dialect, "written" if args.update else
                          ("same" if sums == load(name, dialect) else "DIFFERENT"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
