"""Case 2: create-data with the proposed fidelity generators on Pagila into PostgreSQL, against
COPY FROM STDIN of the same rows (the baseline of case 1).

The config: category, city, country and language are vocabulary tables (make-vocab, then
create-vocab into both destinations); every other table gets the statistics and generators
``synthgate_agent.propose`` proposes (make-stats runs them on the source) and the same
num_rows_per_pass as case 1. Skipped with the reason when the proposal or its generators
are not available.
"""

from __future__ import annotations

import sys

from case1_create_data_pg import PASSES, ROWS_PER_TABLE, measure_create_data, prepare_config
from common import (
    AGENT,
    BUILDER,
    CommandFailed,
    Result,
    apply_proposal,
    pagila_db,
    print_results,
    run,
    scale_parser,
    skipped,
    workdir,
)

VOCAB = ("category", "city", "country", "language")
WHAT = "create-data, proposed generators, PG"


def run_case(scale: float = 1.0) -> list[Result]:
    """Case 2 at the default size and at twice the size (or one skipped line)."""
    try:
        import synthgate_agent.propose  # noqa: F401
    except ImportError as exc:
        return [skipped("2", WHAT, f"no proposed statistics yet ({exc})")]
    passes = max(1, round(PASSES * scale))
    results = []
    with pagila_db("c2_src") as src, workdir("c2") as work:
        prepare_config(work, src, ROWS_PER_TABLE)
        try:
            queries = apply_proposal(work, VOCAB)
            run([AGENT, "make-stats", "--dsn", src], cwd=work)
            run([AGENT, "make-vocab", "--dsn", src, "--compress"], cwd=work)
            run([BUILDER, "create-generators"], cwd=work)
        except CommandFailed as exc:
            return [skipped("2", WHAT, f"the proposed config does not build yet: {exc}")]
        for size, n in (("1x", passes), ("2x", 2 * passes)):
            result = measure_create_data("2", WHAT, work, n, size, 0.5)
            result.note += f", {queries} proposed queries, {len(VOCAB)} vocabulary tables"
            results.append(result)
    return results


if __name__ == "__main__":
    args = scale_parser(__doc__ or "").parse_args()
    print_results(run_case(args.scale))
    sys.exit(0)
