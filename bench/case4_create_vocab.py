"""Case 4: create-vocab of the case 3 file (2,000,000 rows), against COPY FROM STDIN of the
same rows.

The baseline: the source rows are copied out to CSV (not timed), then psql runs
``COPY concept FROM STDIN (FORMAT csv)`` with that file as input into an empty copy of the
table made by create-tables (same key). After create-vocab the round trip is checked: the
row count and an order-free checksum (sum of hashtext of each row) of source and destination.
"""

from __future__ import annotations

import sys

from case3_make_vocab import ROWS, VocabSource, make_vocab, measure_make_vocab, vocab_source
from common import (
    BUILDER,
    PSQL,
    Result,
    announce,
    copy_out,
    pg_sql,
    print_results,
    ratio_result,
    run,
    run_measured,
    scale_parser,
    scratch_db,
)

CHECKSUM = "SELECT count(*) || ' ' || sum(hashtext(c::text)::bigint) FROM concept c"


def measure_create_vocab(source: VocabSource, size: str) -> Result:
    """Case 4 at one size; make-vocab must have written vocab/concept.yaml.gz already."""
    work = source.work
    csv = work / "concept.csv"
    with scratch_db("pg", f"c4_dst_{size}") as dst, scratch_db("pg", f"c4_copy_{size}") as empty:
        run([BUILDER, "create-tables", "--dsn", dst], cwd=work)
        run([BUILDER, "create-tables", "--dsn", empty], cwd=work)
        announce(f"case 4 {size}: create-vocab of {source.rows:,} rows")
        measured = run_measured([BUILDER, "create-vocab", "--dsn", dst], cwd=work)
        same = pg_sql(source.url, CHECKSUM) == pg_sql(dst, CHECKSUM)
        announce(f"case 4 {size}: COPY FROM STDIN of the same rows")
        copy_out(source.url, "concept", csv)
        base = run_measured([*PSQL, empty, "-c", "COPY concept FROM STDIN (FORMAT csv)"],
                            cwd=work, stdin=csv)
        csv.unlink()
    return ratio_result("4", "create-vocab", size, source.rows, measured,
                        "COPY FROM STDIN (psql)", base.seconds, 0.7,
                        note="round trip: " + ("checksums equal" if same else "**MISMATCH**"))


def run_case(scale: float = 1.0, with_case3: bool = False) -> list[Result]:
    """Case 4 at the default size and at twice the size; with ``with_case3`` the make-vocab
    run that writes the file is measured as case 3 (one source, both cases)."""
    rows = round(ROWS * scale)
    case3: list[Result] = []
    case4: list[Result] = []
    for size, n in (("1x", rows), ("2x", 2 * rows)):
        with vocab_source(f"c4_src_{size}", n) as source:
            if with_case3:
                case3.append(measure_make_vocab(source, size))
            else:
                make_vocab(source)
            case4.append(measure_create_vocab(source, size))
    return case3 + case4


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
