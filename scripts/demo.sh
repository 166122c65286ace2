#!/usr/bin/env bash
# `make demo`: the whole synthgate flow with no database server.
# demo/clinic.sql (an invented clinic, SQLite) -> private agent -> signed bundle -> review ->
# public builder -> synthetic SQLite database -> summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
OUT="$PWD/demo-out"
rm -rf "$OUT" && mkdir -p "$OUT/private" "$OUT/public"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "source: demo/clinic.sql -> $OUT/clinic.db (SQLite)"
"$BIN/python" - "$OUT/clinic.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.executescript(open("demo/clinic.sql", encoding="utf-8").read())
con.close()
PY

cd "$OUT/private"
export SRC_DSN="sqlite:///$OUT/clinic.db"
step "private agent: reflect the schema, propose statistics and generators"
"$BIN/synthgate-agent" make-tables
# Two reference tables are copied verbatim (vocabulary), the rest gets proposed statistics.
"$BIN/synthgate-agent" generate-config --vocabulary department --vocabulary drug
# The one edit a user makes here: a hand-written differentially private statistic.
grep -v '^#' ../../demo/dp-stats.yaml | sed -e 's/^privacy-budget/\nprivacy-budget/' >> config.yaml
step "private agent: source statistics (read only; small counts suppressed; one DP query)"
"$BIN/synthgate-agent" make-stats
step "private agent: vocabulary tables"
"$BIN/synthgate-agent" make-vocab --compress
step "private agent: sign the bundle"
"$BIN/synthgate-agent" keygen --out agent
"$BIN/synthgate-agent" bundle --key agent.pem --out ../bundle.tar.gz
step "review: what crosses the air gap"
"$BIN/synthgate-agent" review ../bundle.tar.gz --trust agent.pub --out-dir ../review
cp agent.pub ../public/agent.pub

cd "$OUT/public"
export DST_DSN="sqlite:///$OUT/public/synthetic.db"
B=(--bundle ../bundle.tar.gz --trust agent.pub)
step "public builder: verify the bundle"
"$BIN/synthgate-builder" verify ../bundle.tar.gz --trust agent.pub
step "public builder: ssg.py, tables, vocabulary, synthetic rows"
"$BIN/synthgate-builder" create-generators "${B[@]}"
"$BIN/synthgate-builder" create-tables "${B[@]}"
"$BIN/synthgate-builder" create-vocab "${B[@]}"
"$BIN/synthgate-builder" create-data "${B[@]}" --scale 2 --seed 1 --run-record run.json
step "public builder: fidelity of the synthetic data against the bundle's statistics"
"$BIN/synthgate-builder" report "${B[@]}" --out-dir ../report --scale 2 --run-record run.json

step "summary"
"$BIN/python" - "$OUT/public/synthetic.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
for t in tables:
    print(f"  {t:<14} {con.execute(f'SELECT count(*) FROM {t}').fetchone()[0]:>6} rows")
bad = 0
for t in tables:
    for fk in con.execute(f"PRAGMA foreign_key_list({t})").fetchall():
        ref, col, refcol = fk[2], fk[3], fk[4]
        bad += con.execute(f"SELECT count(*) FROM {t} c LEFT JOIN {ref} p ON c.{col} = p.{refcol} "
                           f"WHERE c.{col} IS NOT NULL AND p.{refcol} IS NULL").fetchone()[0]
print(f"  foreign keys: {'all valid' if bad == 0 else f'{bad} dangling'}")
print("  sample patients:")
for row in con.execute("SELECT patient_id, first_name, last_name, birth_date, sex FROM patient LIMIT 3"):
    print("   ", row)
sys.exit(1 if bad else 0)
PY
step "screenshots of both pages (headless Chromium, 1366x768)"
if [ -x /usr/bin/chromium ]; then
  for page in review/review report/report; do
    /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$OUT/.chromium" --window-size=1366,768 \
      --screenshot="$OUT/$(basename "$page").png" "file://$OUT/$page.html" >/dev/null 2>&1
  done
  rm -rf "$OUT/.chromium"
  echo "  $OUT/review.png  $OUT/report.png"
else
  echo "  skipped: /usr/bin/chromium is missing (scripts/ensure-tools.sh installs it)"
fi
echo
echo "bundle: $OUT/bundle.tar.gz   review: $OUT/review/review.html"
echo "fidelity report: $OUT/report/report.html   synthetic DB: $OUT/public/synthetic.db"
