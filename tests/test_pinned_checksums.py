"""create-data's output pinned: the same --seed gives the same tables (issue 13).

For Pagila, Chinook, bank and shop, the zero-config flow's create-data --seed 1 --scale 1 into
PostgreSQL, MariaDB and SQLite must give tables whose checksums equal the golden files in
tests/data/pinned (see tests/pin_checksums.py). When generation changes on purpose, regenerate
them: ``SYNTHGATE_UPDATE_PINS=1 .venv/bin/pytest tests/test_pinned_checksums.py`` or
``.venv/bin/python tests/pin_checksums.py --update``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import fidelity_eval as fe
import pin_checksums as pins
import pytest

# One worker runs them all (--dist loadgroup), so each database's flow runs once.
pytestmark = [pytest.mark.xdist_group("fidelity_any_db"), pytest.mark.slow,
              pytest.mark.postgres, pytest.mark.mariadb]
UPDATE = os.environ.get("SYNTHGATE_UPDATE_PINS") == "1"


@pytest.fixture(scope="module", params=fe.DATASETS)
def work(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The dataset's name and the folder of its flow's files (config, orm, stats, ssg.py)."""
    name: str = request.param
    with pins.flow(name, tmp_path_factory.mktemp(f"pin_{name}")) as folder:
        yield name, folder


@pytest.mark.parametrize("dialect", pins.DIALECTS)
def test_checksums_unchanged(work: tuple[str, Path], dialect: str) -> None:
    """Every table created by create-data --seed 1 matches its pinned checksum."""
    name, folder = work
    sums = pins.build(folder, dialect)
    if UPDATE:
        pins.save(name, dialect, sums)
    golden = pins.load(name, dialect)
    changed = sorted(t for t in golden.keys() | sums.keys() if golden.get(t) != sums.get(t))
    assert not changed, (f"{name} on {dialect}: tables differ from "
                         f"{pins.golden_path(name, dialect)}: {changed} "
                         "(regenerate with SYNTHGATE_UPDATE_PINS=1 if on purpose)")
