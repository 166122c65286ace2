"""SqlSynthGen's Introductory Tutorial (the Pagila database) run with ``synthgate``.

The tutorial: https://sqlsynthgen.readthedocs.io/en/latest/introduction.html ("Introductory
Tutorial"; source: github.com/alan-turing-institute/sqlsynthgen, docs/source/introduction.rst).
Each command is the tutorial's with ``sqlsynthgen`` replaced by ``synthgate``, in its order,
with its environment variables (SRC_DSN, SRC_SCHEMA, DST_DSN, DST_SCHEMA); each config.yaml
edit is the tutorial's listing, put in place of the section it names. The questions the
tutorial answers ("Are you sure? [y/N]: y") are answered the same way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYNTHGATE = ROOT / ".venv" / "bin" / "synthgate"

FILM_AND_ACTOR = """\
film:
  row_generators:
  - name: generic.text.text
    columns_assigned: fulltext
actor:
  row_generators:
  - name: generic.person.first_name
    columns_assigned: first_name
  - name: generic.person.last_name
    columns_assigned: last_name
customer:
  row_generators:
  - name: generic.person.email
    kwargs:
      domains:
      - gmail.com
      - ucl.ac.uk
      unique: true
    columns_assigned: email
"""
PARTITIONS = "".join(f"payment_p2022_0{i}:\n  ignore: true\n" for i in range(1, 8))
VOCABULARIES = """\
category:
  vocabulary_table: true
city:
  vocabulary_table: true
country:
  vocabulary_table: true
language:
  vocabulary_table: true
"""


def _edit(folder: Path, sections: str) -> None:
    """Put the tutorial's listing of table sections in place of those sections."""
    path = folder / "config.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    tables = config.setdefault("tables", {}) or {}
    config["tables"] = tables
    for name, section in yaml.safe_load(sections).items():
        tables[name] = section
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _run(folder: Path, env: dict[str, str], command: str, stdin: str = ""
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(SYNTHGATE), *command.split()], cwd=folder, text=True,
                          capture_output=True, input=stdin, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(folder),
                               "SYNTHGATE_ALLOW_PRIVILEGED_ROLE": "1", **env})
    assert done.returncode == 0, f"synthgate {command}: {done.stderr}"
    return done


def _count(url: str, query: str) -> Any:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sa.text(query)).scalar()
    engine.dispose()
    return value


@pytest.mark.postgres
@pytest.mark.slow
def test_pagila_introduction_runs_with_only_the_program_name_changed(
        pagila_url: str, pg_url: str, tmp_path: Path) -> None:
    private = {"SRC_DSN": pagila_url, "SRC_SCHEMA": "public"}
    public = {"DST_DSN": pg_url, "DST_SCHEMA": "public"}
    # Minimal example. The tutorial's vocabulary tables come in step #2.
    for command in ("generate-config", "make-tables", "make-stats"):
        _run(tmp_path, private, command)
    for command in ("create-generators", "create-tables", "create-data"):
        _run(tmp_path, public, command)
    # Fixing the errors with the minimal example
    _edit(tmp_path, FILM_AND_ACTOR)
    _run(tmp_path, public, "create-generators --force")
    _run(tmp_path, public, "create-data --num-passes 15")
    assert _count(pg_url, "SELECT count(*) FROM film WHERE fulltext IS NULL") == 0
    assert _count(pg_url, "SELECT count(DISTINCT email) = count(*) FROM customer")
    # the 15 new passes' customers have the tutorial's domains (the first pass's keep theirs)
    assert _count(pg_url, "SELECT count(*) FROM customer WHERE email LIKE '%@gmail.com' "
                          "OR email LIKE '%@ucl.ac.uk'") == 15 * _count(
        pg_url, "SELECT count(*) FROM customer") // 16
    # #1: ignoring unwanted tables (the partitions, which orm.yaml folded into payment)
    _edit(tmp_path, PARTITIONS)
    _run(tmp_path, public, "remove-tables --yes")
    _run(tmp_path, public, "create-tables")
    _run(tmp_path, public, "create-data")
    # #2: generate vocabularies
    _edit(tmp_path, VOCABULARIES)
    _run(tmp_path, private, "make-vocab --compress")
    assert sorted(p.name for p in (tmp_path / "vocab").iterdir()) == [
        "category.yaml.gz", "city.yaml.gz", "country.yaml.gz", "language.yaml.gz"]
    asked = _run(tmp_path, public, "remove-vocab", stdin="y\n")
    assert "refer" in asked.stdout  # the question named the rows that refer to them
    _run(tmp_path, public, "create-vocab")
    for table in ("category", "city", "country", "language"):
        assert _count(pg_url, f"SELECT count(*) FROM {table}") == _count(
            pagila_url, f"SELECT count(*) FROM {table}")
