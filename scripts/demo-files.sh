#!/usr/bin/env bash
# `make demo-files`: the files variant of the demo, no database anywhere.
# demo/clinic.sql exported to a folder of Parquet files -> private agent (--parquet-dir, keys
# guessed) -> public builder (create-data --dst-dir) -> a folder of synthetic Parquet files.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
OUT="$PWD/demo-out/files"
rm -rf "$OUT" && mkdir -p "$OUT/exports" "$OUT/work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "source: demo/clinic.sql exported to $OUT/exports/<table>.parquet"
"$BIN/python" - "$OUT/exports" <<'PY'
import sqlite3, sys
import pandas as pd
con = sqlite3.connect(":memory:")
con.executescript(open("demo/clinic.sql", encoding="utf-8").read())
for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                "AND name NOT LIKE 'sqlite_%'").fetchall():
    pd.read_sql(f'SELECT * FROM "{name}"', con).to_parquet(f"{sys.argv[1]}/{name}.parquet")
PY

cd "$OUT/work"
step "private agent: tables (keys guessed, each a warning), config, statistics, vocabulary"
"$BIN/synthgate-agent" make-tables --parquet-dir ../exports
"$BIN/synthgate-agent" generate-config --parquet-dir ../exports --vocabulary department \
    --vocabulary drug
"$BIN/synthgate-agent" make-stats --parquet-dir ../exports
"$BIN/synthgate-agent" make-vocab --parquet-dir ../exports
step "public builder: synthetic tables straight to Parquet files"
"$BIN/synthgate-builder" create-generators
"$BIN/synthgate-builder" create-data --dst-dir ../synthetic --format parquet --scale 2 --seed 1
step "summary"
"$BIN/python" - "$OUT/synthetic" <<'PY'
import pathlib, sys
import pyarrow.parquet as pq
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.parquet")):
    print(f"  {path.name:<22} {pq.read_metadata(path).num_rows:>6} rows")
PY
echo
echo "synthetic files: $OUT/synthetic"
