"""Case 6: a story generator into PostgreSQL: each story makes one parent (``users``, key
filled by the database and read back) and 10 to 20 children (``sessions``) that point at it.

Rows per second of create-data (parents and children); target 20,000 rows/s.
No baseline: the target is absolute.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from common import (
    AGENT,
    BUILDER,
    Result,
    announce,
    count_rows,
    defaults_only,
    edit_config,
    pg_sql,
    print_results,
    run,
    run_measured,
    scale_parser,
    scratch_db,
    workdir,
)

STORIES_PER_PASS = 2_000  # about 32,000 rows a pass
PASSES = 5
SOURCE_DDL = """
CREATE TABLE users (id serial PRIMARY KEY, name varchar(40), device varchar(30) NOT NULL);
CREATE TABLE sessions (id serial PRIMARY KEY, user_id integer NOT NULL REFERENCES users,
                       device varchar(30), secs integer);
"""
STORY = '''
import random

DEVICES = ["Mac Desktop", "Windows Desktop", "iPhone", "Android"]


def sessions_story():
    """One user (its id read back from the database) and 10 to 20 of its sessions."""
    user = yield "users", {"device": random.choice(DEVICES)}
    for _ in range(random.randint(10, 20)):
        device = user["device"] if random.random() < 0.8 else random.choice(DEVICES)
        yield "sessions", {"user_id": user["id"], "device": device}
'''


def prepare(work: Path, src: str) -> None:
    """orm.yaml from the source schema, the story module and a config that runs it."""
    pg_sql(src, SOURCE_DDL)
    run([AGENT, "make-tables", "--dsn", src], cwd=work)
    run([AGENT, "generate-config", "--dsn", src], cwd=work)
    (work / "bench_story.py").write_text(STORY)

    def stories(data: dict[str, Any]) -> None:
        defaults_only(data)
        for entry in data["tables"].values():
            entry["num_rows_per_pass"] = 0
        data["story_generators_module"] = "bench_story"
        data["story_generators"] = [{"name": "bench_story.sessions_story",
                                     "num_stories_per_pass": STORIES_PER_PASS}]

    edit_config(work / "config.yaml", stories)
    run([BUILDER, "create-generators"], cwd=work)


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 6 at the default size and at twice the size."""
    passes = max(1, round(PASSES * scale))
    results = []
    with scratch_db("pg", "c6_src") as src, workdir("c6") as work:
        prepare(work, src)
        for size, n in (("1x", passes), ("2x", 2 * passes)):
            with scratch_db("pg", f"c6_dst_{size}") as dst:
                run([BUILDER, "create-tables", "--dsn", dst], cwd=work)
                announce(f"case 6 {size}: create-data, {n} passes of {STORIES_PER_PASS} stories")
                measured = run_measured([BUILDER, "create-data", "--dsn", dst, "--num-passes",
                                         str(n), "--seed", "1"], cwd=work)
                rows = count_rows(dst, ["users", "sessions"])
                orphans = pg_sql(dst, "SELECT count(*) FROM users u WHERE NOT EXISTS "
                                 "(SELECT 1 FROM sessions s WHERE s.user_id = u.id)").strip()
            results.append(Result("6", "story generator (1 parent + 10-20 children)", size,
                                  rows, measured.seconds, measured.peak_mb, target=20_000,
                                  note=f"{n} passes x {STORIES_PER_PASS} stories; parents "
                                  f"without children: {orphans}"))
    return results


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
