"""Case 5: make-stats with the proposed config on a 5,000,000-row table, against one
sequential scan of that table.

The source: ``event`` (5,000,000 rows: key, a foreign key to 50,000 ``person`` rows, two
low-cardinality codes, a number, an integer, a timestamp and a text) and ``person``. The
config holds every statistic ``synthgate_agent.propose`` proposes for both tables (profile
with quantiles and correlations, frequencies, joint frequencies, children per parent).
The baseline: ``SELECT count(*) FROM event WHERE score >= 0`` (score has no index, so no
index-only scan), the median of three warm runs. The ratio is make-stats time in scans.
"""

from __future__ import annotations

import statistics
import sys

from common import (
    AGENT,
    PSQL,
    Result,
    announce,
    apply_proposal,
    pg_sql,
    print_results,
    run,
    run_measured,
    scale_parser,
    scratch_db,
    skipped,
    workdir,
)

ROWS = 5_000_000
PERSONS = 50_000
SCAN = "SELECT count(*) FROM event WHERE score >= 0"
SOURCE_DDL = """
CREATE TABLE person (
  person_id integer PRIMARY KEY,
  gender_code varchar(10) NOT NULL,
  year_of_birth integer NOT NULL
);
INSERT INTO person SELECT i, (ARRAY['F','M','X'])[1 + i % 3], 1930 + i % 80
FROM generate_series(1, {persons}) AS i;
CREATE TABLE event (
  event_id bigint PRIMARY KEY,
  person_id integer NOT NULL REFERENCES person,
  event_type varchar(20) NOT NULL,
  status varchar(10),
  amount numeric(10,2),
  score integer NOT NULL,
  created_at timestamp NOT NULL,
  note text
);
INSERT INTO event
SELECT i, 1 + (hashint4(i::int) & 2147483647) % {persons},
       (ARRAY['visit','drug','lab','procedure','note'])[1 + i % 5],
       CASE WHEN i % 11 = 0 THEN NULL ELSE (ARRAY['open','closed','void'])[1 + i % 3] END,
       round((random() * 1000)::numeric, 2), (random() * 100)::int,
       timestamp '2015-01-01' + (i % 300000000) * interval '1 second',
       CASE WHEN i % 4 = 0 THEN NULL ELSE repeat('x', i % 40) END
FROM generate_series(1, {rows}) AS i;
"""
WHAT = "make-stats, proposed config"


def measure(size: str, rows: int) -> Result:
    """Case 5 at one size."""
    with scratch_db("pg", f"c5_src_{size}") as src, workdir(f"c5_{size}") as work:
        announce(f"case 5 {size}: filling event with {rows:,} rows")
        pg_sql(src, SOURCE_DDL.format(rows=rows, persons=PERSONS))
        pg_sql(src, "VACUUM ANALYZE")
        run([AGENT, "make-tables", "--dsn", src], cwd=work)
        run([AGENT, "generate-config", "--dsn", src], cwd=work)
        queries = apply_proposal(work)
        run([*PSQL, src, "-c", SCAN])  # warm the cache
        announce(f"case 5 {size}: make-stats ({queries} queries)")
        measured = run_measured([AGENT, "make-stats", "--dsn", src, "--timeout", "3000"],
                                cwd=work)
        scan = statistics.median(run_measured([*PSQL, src, "-c", SCAN], cwd=work).seconds
                                 for _ in range(3))
    for line in measured.stdout.splitlines():
        announce(f"case 5 {size}:   {line}")
    # make-stats prints "<name>: <n> rows, <s> s" per query; they run concurrently, so their
    # sum is the work, not the wall time
    in_queries = sum(float(line.rsplit(", ", 1)[1].split()[0])
                     for line in measured.stdout.splitlines() if line.endswith(" s"))
    return Result("5", WHAT, size, rows, measured.seconds, measured.peak_mb,
                  "seq scan count(*)", rows / scan, measured.seconds / scan, 3.0,
                  lower_is_better=True, note=f"{queries} proposed queries; one scan "
                  f"{scan:.2f} s; the query times add up to {in_queries:.1f} s = "
                  f"{in_queries / scan:.1f} scans (run concurrently)")


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 5 at the default size and at twice the size."""
    try:
        import synthgate_agent.propose  # noqa: F401
    except ImportError as exc:
        return [skipped("5", WHAT, f"no proposed statistics yet ({exc})")]
    rows = round(ROWS * scale)
    return [measure(size, n) for size, n in (("1x", rows), ("2x", 2 * rows))]


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
