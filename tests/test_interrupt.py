"""A run stopped in the middle leaves whole passes only (issue 3 and 7: correctness under speed)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT

BUILDER = ROOT / ".venv" / "bin" / "synthgate-builder"
ROWS_PER_PASS = 3000

ORM = """\
synthgate-orm: 1
source: {dialect: postgresql, schema: public, table_count: 2}
tables:
  parent:
    columns:
    - {name: id, type: integer, nullable: false}
    - {name: label, type: varchar(30), nullable: false}
    primary_key: [id]
  child:
    columns:
    - {name: id, type: integer, nullable: false}
    - {name: parent_id, type: integer, nullable: false}
    - {name: amount, type: 'numeric(8,2)'}
    - {name: at, type: timestamptz}
    primary_key: [id]
    foreign_keys:
    - {columns: [parent_id], ref_table: parent, ref_columns: [id]}
"""

CONFIG = f"""\
tables:
  parent: {{num_rows_per_pass: {ROWS_PER_PASS // 3}}}
  child: {{num_rows_per_pass: {ROWS_PER_PASS}}}
"""


def _builder(tmp_path: Path, dsn: str, *args: str) -> subprocess.Popen[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DST_DSN": dsn}
    return subprocess.Popen([str(BUILDER), *args], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def _counts(dsn: str) -> tuple[int, int]:
    engine = sa.create_engine(dsn)
    with engine.connect() as conn:
        parents = conn.exec_driver_sql("SELECT count(*) FROM parent").scalar_one()
        children = conn.exec_driver_sql("SELECT count(*) FROM child").scalar_one()
    engine.dispose()
    return int(parents), int(children)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_a_stopped_run_keeps_whole_passes(pg_url: str, tmp_path: Path, how: int) -> None:
    (tmp_path / "orm.yaml").write_text(ORM)
    (tmp_path / "config.yaml").write_text(CONFIG)
    for command in ("create-tables", "create-generators"):
        done = _builder(tmp_path, pg_url, command)
        _, err = done.communicate()
        assert done.returncode == 0, err
    run = _builder(tmp_path, pg_url, "create-data", "--num-passes", "500", "--seed", "3")
    deadline = time.monotonic() + 120
    while _counts(pg_url)[1] < 2 * ROWS_PER_PASS:  # a couple of passes committed
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline, "no pass was committed"
        time.sleep(0.05)
    os.kill(run.pid, how)
    out, err = run.communicate()
    assert run.returncode != 0, (out, err)
    if how == signal.SIGINT:
        assert run.returncode == 130
        assert "interrupted" in err and "Traceback" not in err
    parents, children = _counts(pg_url)
    passes = children // ROWS_PER_PASS
    assert 2 <= passes < 500
    assert children == passes * ROWS_PER_PASS
    assert parents == passes * (ROWS_PER_PASS // 3)
