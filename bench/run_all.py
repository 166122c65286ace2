"""Run every benchmark case (issue 7) and write bench/results.md.

    .venv/bin/python bench/run_all.py [--scale F] [--only 1,3] [--big]

Each case measures the synthgate command and its baseline in the same run, at the default
size and at twice the size. ``--big`` adds the memory goal (create-data of 10,000,000 rows
and make-vocab of 10,000,000 rows, each below 500 MB peak); it takes long, so it is off by
default (``--only big`` runs just these). A case that fails is recorded with its error and
the others still run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import case1_create_data_pg
import case2_create_data_fidelity
import case4_create_vocab
import case5_make_stats
import case6_story
import case7_create_data_sqlite_mariadb
import case8_create_data_duckdb
from case1_create_data_pg import measure_create_data, prepare_config
from case3_make_vocab import make_vocab, vocab_source
from common import (
    BUILDER,
    HEADER,
    Result,
    announce,
    growth_lines,
    machine,
    markdown_row,
    pagila_db,
    print_results,
    run,
    workdir,
)

RESULTS = Path(__file__).resolve().parent / "results.md"
SAVED = RESULTS.with_suffix(".json")  # the last figures of every case, for --only reruns
BIG_ROWS = 10_000_000
BIG_LIMIT_MB = 500.0
CASES: dict[str, Callable[[float], list[Result]]] = {
    "1": case1_create_data_pg.run_case,
    "2": case2_create_data_fidelity.run_case,
    "3,4": lambda scale: case4_create_vocab.run_case(scale, with_case3=True),
    "5": case5_make_stats.run_case,
    "6": case6_story.run_case,
    "7": case7_create_data_sqlite_mariadb.run_case,
    "8": case8_create_data_duckdb.run_case,
}


def big_create_data() -> Result:
    """create-data of about 10,000,000 Pagila rows: 7 passes of 100,000 rows per table."""
    per_table, passes = 100_000, 7
    with pagila_db("big_src") as src, workdir("big") as work:
        prepare_config(work, src, per_table)
        run([BUILDER, "create-generators"], cwd=work)
        result = measure_create_data("big", "create-data, 10M rows, PG", work, passes, "big",
                                     None)
    return _memory_goal(result)


def big_make_vocab() -> Result:
    """make-vocab --compress of a 10,000,000-row table."""
    with vocab_source("big_vocab", BIG_ROWS) as source:
        announce(f"big: make-vocab --compress of {BIG_ROWS:,} rows")
        measured = make_vocab(source)
    return _memory_goal(Result("big", "make-vocab --compress, 10M rows", "big", BIG_ROWS,
                               measured.seconds, measured.peak_mb))


def _memory_goal(result: Result) -> Result:
    """Turn a big run into a check of the peak memory against the 500 MB goal."""
    ok = result.peak_mb is not None and result.peak_mb < BIG_LIMIT_MB
    result.note = (f"memory goal < {BIG_LIMIT_MB:.0f} MB peak: "
                   + ("met" if ok else "**missed**") + (f"; {result.note}" if result.note else ""))
    return result


def _failed(key: str, exc: Exception) -> Result:
    return Result(key, "failed", "-", note=f"**failed**: {type(exc).__name__}: "
                  + " ".join(str(exc).split())[:300])


def write_results(results: list[Result], minutes: float, args: argparse.Namespace) -> None:
    """Write bench/results.md: the machine, the date, the table and the growth lines."""
    lines = [
        "# synthgate benchmarks (issue 7)",
        "",
        f"Written by `make bench` (`bench/run_all.py --scale {args.scale:g}"
        + (" --big" if args.big else "") + (f" --only {args.only}" if args.only else "")
        + f"`) on {dt.datetime.now():%Y-%m-%d %H:%M}, in {minutes:.1f} minutes.",
        "",
        f"Machine: {machine()}. The machine was shared with other work while this ran.",
        "",
        "Every baseline ran in the same run on the same rows. `seconds` is the wall time of "
        "the synthgate command as a process (start-up included); `peak MB` is its maximum "
        "resident memory. `ratio` is baseline seconds / synthgate seconds (1.0 = as fast as "
        "the baseline), except case 5 where it is make-stats time in sequential scans. "
        "Each case runs at its default size (1x) and at twice the size (2x).",
        "",
        HEADER,
        "|" + "---|" * HEADER.count(" | ") + "---|",
        *(markdown_row(r) for r in results),
        "",
        "Growth from 1x to 2x (x2.00 = linear):",
        "",
        *growth_lines(results),
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    """Run the selected cases, print the table and write bench/results.md."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every default size")
    parser.add_argument("--only", default="",
                        help="comma-separated cases, e.g. 1,6 (big: the memory checks)")
    parser.add_argument("--big", action="store_true",
                        help="also run the 10,000,000-row memory checks (long)")
    args = parser.parse_args()
    wanted = {c for c in args.only.split(",") if c}
    started = time.perf_counter()
    results: list[Result] = []
    for key, case in CASES.items():
        if wanted and not wanted & set(key.split(",")):
            continue
        try:
            results += case(args.scale)
        except Exception as exc:  # one broken case must not hide the others' figures
            results.append(_failed(key, exc))
        announce(f"cases {key} done")
    if args.big or "big" in wanted:
        for big in (big_create_data, big_make_vocab):
            try:
                results.append(big())
            except Exception as exc:
                results.append(_failed("big", exc))
    if wanted and SAVED.exists():  # keep the other cases' last figures in results.md
        order = [c for key in CASES for c in key.split(",")] + ["big"]
        kept = [Result(**r) for r in json.loads(SAVED.read_text())
                if not wanted & set(r["case"].split(","))]
        results = sorted(kept + results, key=lambda r: order.index(r.case.split(",")[0]))
    SAVED.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    print_results(results)
    write_results(results, (time.perf_counter() - started) / 60, args)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
