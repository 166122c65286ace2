#!/usr/bin/env bash
# Load the bank test schema (invented rows, written by tests/data/make_schemas.py with a fixed seed)
# into a PostgreSQL database:   ./load.sh [DBNAME | postgresql://.../DBNAME]   (default DBNAME: bank)
# Runs bank.sql with psql. MariaDB and SQLite variants: bank-mariadb.sql, bank-sqlite.sql
# (mysql DB < bank-mariadb.sql; sqlite3 FILE < bank-sqlite.sql).
DATASET=bank
DEFAULT_DB=bank
# --- common prologue (same in every dataset's load.sh) ---
# usage: load.sh [DBNAME | postgresql://user:pass@host:port/DBNAME]
# Creates the database if it does not exist, refuses to load into a database
# that already has tables/views/sequences (so nothing is ever dropped or
# overwritten), loads the data, then prints exact row counts and elapsed time.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${1:-$DEFAULT_DB}"
case "$TARGET" in
  postgres://*|postgresql://*)
    URL="$TARGET"
    DB="$(printf '%s' "$URL" | sed -E 's#^[a-z]+://[^/?]*/?##; s#[?].*$##')"
    ADMIN="$(printf '%s' "$URL" | sed -E 's#^([a-z]+://[^/?]*)/?[^?]*#\1/postgres#')"
    ;;
  *) DB="$TARGET"; URL="dbname=$TARGET"; ADMIN="dbname=postgres" ;;
esac
[ -n "$DB" ] || { echo "no database name in '$TARGET'" >&2; exit 2; }
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
T0=$(date +%s.%N)
if [ "$(echo "SELECT 1 FROM pg_database WHERE datname = :'db'" | "${PSQL[@]}" -tA -v db="$DB" "$ADMIN")" != 1 ]; then
  echo 'CREATE DATABASE :"db"' | "${PSQL[@]}" -v db="$DB" "$ADMIN"
  echo "created database $DB"
fi
NREL="$("${PSQL[@]}" -tA "$URL" -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND c.relkind IN ('r','p','v','m','S','f')")"
[ "$NREL" = 0 ] || { echo "database $DB already has $NREL relations; refusing to load (use a new name)" >&2; exit 3; }

report() {
  "${PSQL[@]}" "$URL" -c "SELECT n.nspname AS schema, c.relname AS table,
      CASE c.relkind WHEN 'p' THEN 'partitioned' WHEN 'r' THEN CASE WHEN c.relispartition THEN 'partition' ELSE 'table' END END AS kind,
      (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s %I.%I', CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY' END, n.nspname, c.relname), false, true, '')))[1]::text::bigint AS rows
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')
    ORDER BY 1, 2"
  awk -v t0="$T0" -v t1="$(date +%s.%N)" -v ds="$DATASET" -v db="$DB" 'BEGIN { printf "loaded %s into %s in %.2f s\n", ds, db, t1 - t0 }'
}
# --- end of common prologue ---

"${PSQL[@]}" -o /dev/null --single-transaction "$URL" -f "$HERE/bank.sql"
"${PSQL[@]}" -o /dev/null "$URL" -c ANALYZE
report
