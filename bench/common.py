"""Shared pieces of the benchmark scripts: measured commands, scratch databases, results.

Every measured command runs as its own process; its wall time comes from
``time.perf_counter`` around it and its peak memory from ``getrusage(RUSAGE_CHILDREN)`` in a
small helper process that starts it, so the harness's own memory never counts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from synthgate_shared.config import config_from_data, config_to_data, load_config
from synthgate_shared.db import create_engine_for, parse_dsn
from synthgate_shared.yamlio import dump_yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
AGENT = str(BIN / "synthgate-agent")
BUILDER = str(BIN / "synthgate-builder")
PAGILA_LOAD = ROOT / "tests" / "data" / "pagila" / "load.sh"
PG_ADMIN = os.environ.get("SYNTHGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
MARIA_ADMIN = os.environ.get("SYNTHGATE_BENCH_MARIADB", "mysql://root@127.0.0.1:3306")
PSQL = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
# The benchmarks read their sources as the superuser postgres and MariaDB root, which the
# agent refuses by default; every agent command they start inherits this.
os.environ.setdefault("SYNTHGATE_ALLOW_PRIVILEGED_ROLE", "1")


# --- measuring ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Run:
    """One finished command: wall seconds, peak resident memory (MB) and its output."""

    seconds: float
    peak_mb: float
    stdout: str


class CommandFailed(RuntimeError):
    """A benchmarked command exited with an error."""


# Runs the command and prints its peak RSS (kB) to stderr's last line. A fresh, small process
# must fork the measured command: on Linux a child's ru_maxrss starts from its parent's RSS
# at fork time, so forking from the harness (which may hold large baselines) would inflate it.
_PEAK_HELPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def run_measured(cmd: Sequence[str], cwd: Path, stdin: Path | None = None) -> Run:
    """Run ``cmd`` in ``cwd`` as a child process; its time, peak RSS and stdout.

    Raises CommandFailed (with the end of stderr) when it exits non-zero."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            (open(stdin, "rb") if stdin else open(os.devnull, "rb")) as inp:
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", _PEAK_HELPER, *cmd], cwd=cwd, stdin=inp,
                               stdout=out, stderr=err)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    lines = errors.strip().splitlines()
    if code != 0:
        raise CommandFailed(f"{' '.join(cmd[:2])} exited {code}: {' | '.join(lines[-4:-1])}")
    return Run(seconds, int(lines[-1]) / 1024, text)


def copy_out(url: str, query: str, path: Path) -> None:
    """Write ``COPY (query) TO STDOUT (FORMAT csv)`` of ``url`` into ``path`` (set-up; the
    rows stream through psql, never through this process)."""
    run([*PSQL, "-o", str(path), url, "-c", f"COPY {query} TO STDOUT (FORMAT csv)"])


def run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    """Run a set-up command (not measured); its stdout, or CommandFailed."""
    done = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise CommandFailed(f"{' '.join(cmd[:2])} exited {done.returncode}: {tail}")
    return done.stdout


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """Time a block in this process: the list holds the seconds once the block ends."""
    box: list[float] = []
    started = time.perf_counter()
    yield box
    box.append(time.perf_counter() - started)


# --- scratch databases and work folders --------------------------------------------------------

def engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine for a plain URL, with the drivers the product uses."""
    return create_engine_for(parse_dsn(url), **kwargs)


def _admin(kind: str) -> sa.Engine:
    url = f"{PG_ADMIN}/postgres" if kind == "pg" else f"{MARIA_ADMIN}/"
    return engine(url, isolation_level="AUTOCOMMIT")


def _drop(kind: str, name: str) -> None:
    admin = _admin(kind)
    with admin.connect() as conn:
        if kind == "pg":
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


@contextlib.contextmanager
def scratch_db(kind: str, tag: str, create: bool = True) -> Iterator[str]:
    """A new database ``bench_<tag>`` (``kind``: pg or maria), dropped afterwards; its URL.

    A leftover of an interrupted run with the same name is dropped first. With
    ``create=False`` only the name is reserved (for load.sh, which creates it)."""
    name = f"bench_{tag}"
    _drop(kind, name)
    if create:
        admin = _admin(kind)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' if kind == "pg"
                                 else f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        admin.dispose()
    try:
        yield f"{PG_ADMIN}/{name}" if kind == "pg" else f"{MARIA_ADMIN}/{name}?charset=utf8mb4"
    finally:
        _drop(kind, name)


@contextlib.contextmanager
def pagila_db(tag: str) -> Iterator[str]:
    """A scratch PostgreSQL database loaded with Pagila by tests/data/pagila/load.sh."""
    with scratch_db("pg", tag, create=False) as url:
        run(["bash", str(PAGILA_LOAD), url])
        yield url


@contextlib.contextmanager
def workdir(tag: str) -> Iterator[Path]:
    """A temporary folder for a case's config, orm, ssg.py and files; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"bench_{tag}_"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pg_sql(url: str, sql: str) -> str:
    """Run SQL with psql against ``url`` (set-up, not measured); psql's unaligned output."""
    return run([*PSQL, "-tA", url, "-c", sql])


def edit_config(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load ``config.yaml``, let ``change`` edit its data, validate and write it back."""
    data = config_to_data(load_config(path))
    change(data)
    config_from_data(data, str(path))
    path.write_text(dump_yaml(data), encoding="utf-8")


def defaults_only(data: dict[str, Any]) -> None:
    """Drop what generate-config proposes (src-stats, row generators): default generators."""
    data["src-stats"] = []
    for entry in data.get("tables", {}).values():
        entry["row_generators"] = []


def apply_proposal(work: Path, vocabulary: Sequence[str] = ()) -> int:
    """Mark ``vocabulary`` tables, then write the src-stats and row generators that
    ``synthgate_agent.propose`` proposes into ``work/config.yaml``; how many queries."""
    from synthgate_agent.propose import propose
    from synthgate_shared.orm import load_orm

    model = load_orm(work / "orm.yaml")
    count = 0

    def change(data: dict[str, Any]) -> None:
        nonlocal count
        for name in vocabulary:
            data["tables"][name]["vocabulary_table"] = True
        proposal = propose(model, config_from_data(data))
        data["src-stats"] = proposal.src_stats
        for table, generators in proposal.row_generators.items():
            data["tables"][table]["row_generators"] = generators
        count = len(proposal.src_stats)

    edit_config(work / "config.yaml", change)
    return count


def count_rows(url: str, tables: Sequence[str]) -> int:
    """The total row count of ``tables`` in the database at ``url``."""
    eng = engine(url)
    with eng.connect() as conn:
        total = sum(conn.execute(sa.select(sa.func.count()).select_from(sa.table(t)))
                    .scalar_one() for t in tables)
    eng.dispose()
    return int(total)


# --- results ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    """One line of the results table.

    ``ratio`` is ours / baseline in speed (higher is better), except where ``lower_is_better``
    (case 5: make-stats time in sequential scans). ``target`` is the bound ``ratio`` (or, with
    no baseline, rows/s) must meet; ``met`` is None when there is no target or no figure."""

    case: str
    what: str
    size: str
    rows: int = 0
    seconds: float = 0.0
    peak_mb: float | None = None
    baseline: str = ""
    base_rows_per_s: float | None = None
    ratio: float | None = None
    target: float | None = None
    lower_is_better: bool = False
    note: str = ""

    @property
    def rows_per_s(self) -> float | None:
        """Rows per second of the measured command."""
        return self.rows / self.seconds if self.seconds > 0 and self.rows else None

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: no target or no figure)."""
        value = self.ratio if self.ratio is not None or self.base_rows_per_s else self.rows_per_s
        if self.target is None or value is None:
            return None
        return value <= self.target if self.lower_is_better else value >= self.target


def ratio_result(case: str, what: str, size: str, rows: int, measured: Run, baseline: str,
                 base_seconds: float, target: float | None, note: str = "") -> Result:
    """A result whose baseline handled the same ``rows`` in ``base_seconds``."""
    return Result(case, what, size, rows, measured.seconds, measured.peak_mb, baseline,
                  rows / base_seconds, base_seconds / measured.seconds, target, note=note)


def skipped(case: str, what: str, why: str) -> Result:
    """A line for a case that could not run, with the reason."""
    return Result(case, what, "-", note=f"skipped: {why}")


HEADER = ("| case | what | size | rows | seconds | rows/s | peak MB | baseline | "
          "baseline rows/s | ratio | target | met? | note |")


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def markdown_row(r: Result) -> str:
    """The result as a row of the Markdown table."""
    target = "—" if r.target is None else (
        f"{'<=' if r.lower_is_better else '>='} {r.target:g}"
        + ("" if r.base_rows_per_s or r.ratio is not None else " rows/s"))
    met = {True: "yes", False: "**no**", None: "—"}[r.met]
    ratio = "—" if r.ratio is None else f"{r.ratio:.2f}" + (" scans" if r.lower_is_better else "")
    return (f"| {r.case} | {r.what} | {r.size} | {_num(r.rows or None)} | "
            f"{_num(r.seconds or None, 1)} | {_num(r.rows_per_s)} | {_num(r.peak_mb)} | "
            f"{r.baseline or '—'} | "
            f"{_num(r.base_rows_per_s)} | {ratio} | {target} | {met} | {r.note} |")


def growth_lines(results: Sequence[Result]) -> list[str]:
    """For each case run at 1x and 2x: how time and peak memory grew (2.0 = linear time)."""
    lines = []
    by_key: dict[tuple[str, str], dict[str, Result]] = {}
    for r in results:
        by_key.setdefault((r.case, r.what), {})[r.size] = r
    for (case, what), sizes in by_key.items():
        one, two = sizes.get("1x"), sizes.get("2x")
        if one and two and one.seconds and two.seconds:
            mem = (f", peak memory x{two.peak_mb / one.peak_mb:.2f}"
                   if one.peak_mb and two.peak_mb else "")
            grew = two.seconds / one.seconds
            lines.append(f"- case {case} ({what}): twice the rows took x{grew:.2f} the time{mem}")
    return lines


def print_results(results: Sequence[Result]) -> None:
    """Print the results as a Markdown table, followed by the growth from 1x to 2x."""
    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    for r in results:
        print(markdown_row(r))
    for line in growth_lines(results):
        print(line)
    sys.stdout.flush()


def announce(text: str) -> None:
    """A progress line on stderr (stdout keeps the table)."""
    print(f"[{dt.datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def machine() -> str:
    """The machine the figures come from: CPU cores, memory, OS and Python."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pg = run([*PSQL, "-tA", f"{PG_ADMIN}/postgres", "-c", "SHOW server_version"]).strip()
    return (f"{os.cpu_count()} cores ({cpu}), {pages / 2**30:.1f} GiB memory, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"PostgreSQL {pg}")


def scale_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a case script: ``--scale`` multiplies its default sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the default sizes (the 2x run doubles them again)")
    return parser


def cli_has(command: list[str], option: str) -> bool:
    """Whether a synthgate command's --help lists ``option`` (code that may not exist yet)."""
    done = subprocess.run([*command, "--help"], capture_output=True, text=True)
    return done.returncode == 0 and option in done.stdout
