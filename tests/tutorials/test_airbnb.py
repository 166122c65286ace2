"""SqlSynthGen's "More In-Depth Tutorial" (the AirBnB dataset) run with ``synthgate``.

The tutorial: https://sqlsynthgen.readthedocs.io/en/latest/introduction.html ("More In-Depth
Tutorial"; source: github.com/alan-turing-institute/sqlsynthgen, docs/source/introduction.rst).
Every config.yaml listing and every airbnb_generators.py listing is used exactly as the
tutorial prints it (the module: ``airbnb_generators.py`` beside this file); each command is
the tutorial's with ``sqlsynthgen`` replaced by ``synthgate``. Two steps are added, and the
README's "Coming from SqlSynthGen / datafaker" section says why: ``make-vocab`` (SqlSynthGen
exported vocabularies while making ssg.py; synthgate's builder never reads the source) and
nothing else. The source is a small AirBnB-shaped database made here: VARCHAR keys, users,
sessions, countries and age_gender_bkts, a few hundred rows, the same every run.
"""

from __future__ import annotations

import datetime
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYNTHGATE = ROOT / ".venv" / "bin" / "synthgate"
HERE = Path(__file__).resolve().parent

# --- the config.yaml listings, in the tutorial's order -------------------------------------

VOCABULARY = """\
tables:
  countries:
    vocabulary_table: true
"""
ROW_GENERATORS = """\
tables:
  age_gender_bkts:
    num_rows_per_pass: 1
    row_generators:
      - name: generic.person.password
        columns_assigned: gender
      - name: generic.person.password
        columns_assigned: age_bucket
      - name: generic.column_value_provider.column_value
        args: [dst_db_conn, orm.Countries, '"country_destination"']
        columns_assigned: country_destination

  users:
    num_rows_per_pass: 1
    row_generators:
      - name: generic.person.password
        columns_assigned: id
"""
SESSIONS = """\
tables:
  sessions:
    row_generators:
      - name: generic.numeric.integer_number
        kwargs:
          start: 0
          end: 3600
        columns_assigned: secs_elapsed
      - name: generic.choice
        kwargs:
          items: ["show", "index", "personalize"]
        columns_assigned: action
"""
DATES = """\
row_generators_module: airbnb_generators

tables:
  users:
    num_rows_per_pass: 1
    row_generators:
      - name: generic.person.password
        columns_assigned: id
      - name: airbnb_generators.user_dates_provider
        kwargs:
           generic: generic
        columns_assigned: ["date_account_created", "date_first_booking"]
"""
AGES = """\
src-stats:
  - name: age_stats
    query: >
      SELECT AVG(age)::float AS mean, STDDEV(age)::float AS std_dev
      FROM users
      WHERE age <= 100

tables:
  users:
    row_generators:
      - name: airbnb_generators.user_age_provider
        kwargs:
          query_results: SRC_STATS["age_stats"]
        columns_assigned: age
"""
DP_AGES = """\
src-stats:
  - name: age_stats
    query: >
      SELECT age, id
      FROM users
      WHERE age <= 100
    dp-query: >
      SELECT AVG(age) AS mean, STDDEV(age) AS std_dev
      FROM query_result
    epsilon: 0.5
    delta: 0.000001
    snsql-metadata:
      max_ids: 1
      id:
        type: string
        private_id: true
      age:
        type: float
        lower: 0
        upper: 100
"""
# the tutorial's listing has "..." lines standing for the listings above (YAML would read
# "..." as the end of the document); they are the merge below
STORIES = """\
tables:
  users:
     num_rows_per_pass: 0  # see 1 below

  sessions:
     num_rows_per_pass: 0  # see 1 below

story_generators_module: airbnb_generators  # see 2 below

story_generators:
  - name: airbnb_generators.sessions_story
    num_stories_per_pass: 30  # see 3 below
"""

SOURCE_SQL = """
CREATE TABLE countries (country_destination VARCHAR(10) PRIMARY KEY,
    destination_km2 INTEGER, destination_language VARCHAR(10), distance_km REAL,
    language_levenshtein_distance REAL, lat_destination REAL, lng_destination REAL);
CREATE TABLE age_gender_bkts (age_bucket VARCHAR(10) NOT NULL,
    country_destination VARCHAR(10) NOT NULL REFERENCES countries (country_destination),
    gender VARCHAR(10) NOT NULL, population_in_thousands REAL, year INTEGER,
    PRIMARY KEY (age_bucket, country_destination, gender));
CREATE TABLE users (id VARCHAR(20) PRIMARY KEY, date_account_created DATE,
    date_first_booking DATE, gender VARCHAR(20), age INTEGER, first_device_type VARCHAR(40),
    country_destination VARCHAR(10) REFERENCES countries (country_destination));
CREATE TABLE sessions (id SERIAL PRIMARY KEY,
    user_id VARCHAR(20) NOT NULL REFERENCES users (id), action VARCHAR(40),
    device_type VARCHAR(40), secs_elapsed INTEGER);
INSERT INTO countries VALUES
    ('AU', 7741220, 'eng', 15297.744, 0.0, -26.853388, 133.27516),
    ('CA', 9984670, 'eng', 2828.1333, 0.0, 62.393303, -96.818146),
    ('FR', 643801, 'fra', 7682.945, 92.06, 46.232193, 2.209667),
    ('US', 9826675, 'eng', 0.0, 0.0, 36.966427, -95.84403);
INSERT INTO age_gender_bkts
    SELECT b || '-' || (b + 4), c, g, 100 + b, 2015
    FROM generate_series(0, 95, 5) AS b, (VALUES ('AU'), ('CA'), ('FR'), ('US')) AS cs (c),
         (VALUES ('male'), ('female')) AS gs (g);
INSERT INTO users
    SELECT 'u' || lpad(i::text, 5, '0'), DATE '2012-01-01' + (i * 7) % 1200,
           CASE WHEN i % 3 = 0 THEN NULL ELSE DATE '2014-01-01' + (i * 11) % 800 END,
           CASE WHEN i % 2 = 0 THEN 'FEMALE' ELSE 'MALE' END,
           CASE WHEN i % 50 = 0 THEN 2014 ELSE 20 + (i * 37) % 41 END,
           (ARRAY['Mac Desktop', 'Windows Desktop', 'iPhone'])[1 + i % 3],
           (ARRAY['AU', 'CA', 'FR', 'US'])[1 + i % 4]
    FROM generate_series(1, 300) AS i;
INSERT INTO sessions (user_id, action, device_type, secs_elapsed)
    SELECT 'u' || lpad((1 + i % 300)::text, 5, '0'),
           (ARRAY['show', 'index', 'personalize', 'search'])[1 + i % 4],
           (ARRAY['Mac Desktop', 'Windows Desktop', 'iPhone'])[1 + i % 3], (i * 97) % 3600
    FROM generate_series(1, 900) AS i;
"""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` on top of ``base``: mappings merge, a row_generators list adds its entries
    for columns not assigned yet (the tutorial's "on top of the configurations we wrote")."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif key == "row_generators" and isinstance(out.get(key), list):
            seen = {str(g["columns_assigned"]) for g in out[key]}
            out[key] = out[key] + [g for g in value if str(g["columns_assigned"]) not in seen]
        else:
            out[key] = value
    return out


def _config(*listings: str) -> str:
    data: dict[str, Any] = {}
    for listing in listings:
        data = _merge(data, yaml.safe_load(listing))
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture
def tutorial(tmp_path: Path, pg_url_factory: Any) -> tuple[Path, str]:
    """The tutorial's folder (.env, airbnb_generators.py) and the destination URL."""
    src, dst = pg_url_factory(), pg_url_factory()
    engine = sa.create_engine(src)
    with engine.begin() as conn:
        conn.execute(sa.text(SOURCE_SQL))
    engine.dispose()
    (tmp_path / ".env").write_text(f"SRC_DSN='{src}'\nDST_DSN='{dst}'\n")
    shutil.copy(HERE / "airbnb_generators.py", tmp_path / "airbnb_generators.py")
    return tmp_path, dst


def synthgate(cwd: Path, command: str, stdin: str | None = None
              ) -> subprocess.CompletedProcess[str]:
    """One tutorial command line, ``sqlsynthgen`` replaced by ``synthgate``."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "SYNTHGATE_ALLOW_PRIVILEGED_ROLE": "1"}
    done = subprocess.run([str(SYNTHGATE), *command.split()], cwd=cwd, env=env, text=True,
                          capture_output=True, input=stdin or "", check=False)
    assert done.returncode == 0, f"synthgate {command}: {done.stderr}"
    return done


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(query))]
    engine.dispose()
    return rows


@pytest.mark.postgres
@pytest.mark.slow
def test_airbnb_tutorial_runs_with_only_the_program_name_changed(
        tutorial: tuple[Path, str]) -> None:
    folder, dst = tutorial
    # Default Behavior
    for command in ("make-tables", "create-tables", "create-generators", "create-data"):
        synthgate(folder, command)
    # Vocabulary Tables
    (folder / "config.yaml").write_text(VOCABULARY)
    synthgate(folder, "make-vocab")  # added: see the module's docstring
    synthgate(folder, "create-generators --config-file config.yaml --force")
    synthgate(folder, "remove-data --config-file config.yaml", stdin="y\n")
    synthgate(folder, "create-vocab --config-file config.yaml --orm-file orm.yaml")
    synthgate(folder, "create-data")
    # Row-based custom generators, aggregate statistics, stories
    (folder / "config.yaml").write_text(_config(VOCABULARY, ROW_GENERATORS, SESSIONS, DATES,
                                                AGES, STORIES))
    synthgate(folder, "make-stats --config-file config.yaml")
    stats = yaml.safe_load((folder / "src-stats.yaml").read_text())["age_stats"]["results"][0]
    synthgate(folder, "create-generators --config-file config.yaml --stats-file "
                      "src-stats.yaml --force")
    synthgate(folder, "remove-data --config-file config.yaml", stdin="y\n")
    synthgate(folder, "create-data --num-passes 10")

    users = _rows(dst, "SELECT id, age, date_account_created, date_first_booking, "
                       "first_device_type FROM users")
    assert len(users) == 300  # 30 stories a pass, no row-by-row users
    ages = [u[1] for u in users]
    assert abs(statistics.mean(ages) - stats["mean"]) < 2.5
    assert abs(statistics.stdev(ages) - stats["std_dev"]) < 2.5
    assert all(b is None or b.year > a.year for _, _, a, b, _ in users)  # no booking before
    assert all(datetime.date(2010, 1, 1) <= u[2] <= datetime.date(2015, 12, 31) for u in users)
    per_user = dict(_rows(dst, "SELECT user_id, count(*) FROM sessions GROUP BY user_id"))
    assert set(per_user) == {u[0] for u in users}
    assert all(10 <= n <= 20 for n in per_user.values())
    assert {a for (a,) in _rows(dst, "SELECT DISTINCT action FROM sessions")} <= {
        "show", "index", "personalize"}
    # the vocabulary, next to the one row the tutorial's first create-data made (remove-data
    # keeps vocabulary tables, in SqlSynthGen too)
    countries = {c for (c,) in _rows(dst, "SELECT country_destination FROM countries")}
    assert {"AU", "CA", "FR", "US"} <= countries and len(countries) == 5
    # every foreign key holds (the constraints are in place too; this says it in the test)
    assert _rows(dst, "SELECT count(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id "
                      "WHERE u.id IS NULL") == [(0,)]
    assert _rows(dst, "SELECT count(*) FROM age_gender_bkts a LEFT JOIN countries c USING "
                      "(country_destination) WHERE c.country_destination IS NULL") == [(0,)]
    assert _rows(dst, "SELECT count(*) FROM age_gender_bkts") == [(10,)]

    # Differentially Private Source Statistics: "nothing else has to change"
    (folder / "config.yaml").write_text(_config(VOCABULARY, ROW_GENERATORS, SESSIONS, DATES,
                                                AGES, STORIES, DP_AGES))
    synthgate(folder, "make-stats --config-file config.yaml --force")
    noisy = yaml.safe_load((folder / "src-stats.yaml").read_text())["age_stats"]["results"][0]
    assert abs(noisy["mean"] - stats["mean"]) < 10
