"""Case 3: make-vocab --compress of a 2,000,000-row table, against COPY TO STDOUT of it.

The table is shaped like the OMOP ``concept`` vocabulary (10 columns: integer key, names,
codes, dates, NULLs). The baseline: psql runs ``COPY (SELECT <the same columns> FROM concept
ORDER BY concept_id) TO STDOUT`` (text format, the order make-vocab exports in) into
/dev/null; so it measures the database's own export, with no encoding and no gzip.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    AGENT,
    PSQL,
    Result,
    Run,
    announce,
    defaults_only,
    edit_config,
    pg_sql,
    print_results,
    ratio_result,
    run,
    run_measured,
    scale_parser,
    scratch_db,
    workdir,
)

ROWS = 2_000_000
COLUMNS = ("concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, "
           "standard_concept, concept_code, valid_start_date, valid_end_date, invalid_reason")
CONCEPT_DDL = """
CREATE TABLE concept (
  concept_id integer PRIMARY KEY,
  concept_name varchar(255) NOT NULL,
  domain_id varchar(20) NOT NULL,
  vocabulary_id varchar(20) NOT NULL,
  concept_class_id varchar(20) NOT NULL,
  standard_concept char(1),
  concept_code varchar(50) NOT NULL,
  valid_start_date date NOT NULL,
  valid_end_date date NOT NULL,
  invalid_reason varchar(1)
);
INSERT INTO concept
SELECT i, 'Concept ' || md5(i::text)
          || CASE WHEN i % 7 = 0 THEN ' with "quotes", commas' ELSE '' END,
       (ARRAY['Condition','Drug','Procedure','Measurement','Observation'])[1 + i % 5],
       (ARRAY['SNOMED','RxNorm','LOINC','ICD10CM'])[1 + i % 4],
       (ARRAY['Clinical Finding','Ingredient','Lab Test'])[1 + i % 3],
       CASE WHEN i % 3 = 0 THEN 'S' END, 'C' || i,
       date '1970-01-01' + i % 18000, date '2099-12-31', CASE WHEN i % 50 = 0 THEN 'D' END
FROM generate_series(1, {rows}) AS i;
"""


@dataclasses.dataclass(frozen=True)
class VocabSource:
    """A source database holding ``concept`` and a work folder configured for make-vocab."""

    url: str
    work: Path
    rows: int


@contextlib.contextmanager
def vocab_source(tag: str, rows: int) -> Iterator[VocabSource]:
    """A scratch source with ``rows`` concept rows, orm.yaml and config.yaml (concept a
    vocabulary table); dropped afterwards."""
    with scratch_db("pg", tag) as url, workdir(tag) as work:
        announce(f"{tag}: filling concept with {rows:,} rows")
        pg_sql(url, CONCEPT_DDL.format(rows=rows))
        pg_sql(url, "VACUUM ANALYZE concept")
        run([AGENT, "make-tables", "--dsn", url], cwd=work)
        run([AGENT, "generate-config", "--dsn", url], cwd=work)

        def vocabulary(data: dict[str, Any]) -> None:
            defaults_only(data)
            data["tables"]["concept"]["vocabulary_table"] = True

        edit_config(work / "config.yaml", vocabulary)
        yield VocabSource(url, work, rows)


def make_vocab(source: VocabSource) -> Run:
    """make-vocab --compress of the source (measured)."""
    return run_measured([AGENT, "make-vocab", "--dsn", source.url, "--compress", "--force"],
                        cwd=source.work)


def measure_make_vocab(source: VocabSource, size: str) -> Result:
    """Case 3 at one size: make-vocab --compress against COPY TO STDOUT."""
    announce(f"case 3 {size}: make-vocab --compress of {source.rows:,} rows")
    measured = make_vocab(source)
    announce(f"case 3 {size}: COPY TO STDOUT of the same rows")
    base = run_measured([*PSQL, "-o", "/dev/null", source.url, "-c",
                         f"COPY (SELECT {COLUMNS} FROM concept ORDER BY concept_id) TO STDOUT"],
                        cwd=source.work)
    size_mb = (source.work / "vocab" / "concept.yaml.gz").stat().st_size / 2**20
    return ratio_result("3", "make-vocab --compress", size, source.rows, measured,
                        "COPY (SELECT) TO STDOUT (psql, /dev/null)", base.seconds, 0.5,
                        note=f"concept.yaml.gz {size_mb:.0f} MB")


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 3 at the default size and at twice the size."""
    rows = round(ROWS * scale)
    results = []
    for size, n in (("1x", rows), ("2x", 2 * rows)):
        with vocab_source(f"c3_src_{size}", n) as source:
            results.append(measure_make_vocab(source, size))
    return results


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
