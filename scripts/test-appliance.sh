#!/usr/bin/env bash
# The appliance, for real: install and start a Docker engine when needed, build the base image
# and the images, run the compose demo on Pagila, check the synthetic database and the
# lockdown from inside the containers, check bad input, and tear everything down.
#
# Needs root (apt-get, dockerd, iptables). Settings: SCALE (1). The images it builds stay
# (tagged :test); the ones they replace are removed.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT_DIR"
T_START=$(date +%s.%N)
export BASE_IMAGE=synthgate/debian-base:bookworm
export DB_IMAGE=synthgate/postgres:bookworm
export AGENT_IMAGE=synthgate/agent:test BUILDER_IMAGE=synthgate/builder:test
export SYNTHGATE_AGENT_IMAGE=$AGENT_IMAGE SYNTHGATE_BUILDER_IMAGE=$BUILDER_IMAGE SYNTHGATE_DB_IMAGE=$DB_IMAGE
export SYNTHGATE_OUT=$ROOT_DIR/out/test-appliance
# the folders compose/appliance.sh derives from SYNTHGATE_OUT, for the compose calls made here
export SYNTHGATE_AGENT_WORK=$SYNTHGATE_OUT/private SYNTHGATE_BUILDER_WORK=$SYNTHGATE_OUT/public
export SYNTHGATE_TRUST=$SYNTHGATE_OUT/trust SYNTHGATE_KEY=$SYNTHGATE_OUT/secrets/agent.pem
export SCALE=${SCALE:-1}
export SYNTHGATE_UID=10001 SYNTHGATE_GID=10001
APPLIANCE=(bash compose/appliance.sh)
TIMES=()
DOCKERD_PID=
FAILURES=0

say() { echo "test-appliance: $*"; }
die() { echo "test-appliance: FAILED: $*" >&2; exit 1; }
since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
timed() { # timed LABEL COMMAND...: run it, record its time
    local label=$1 t0
    shift
    t0=$(date +%s.%N)
    "$@"
    TIMES+=("$(printf '%-28s %7s s' "$label" "$(since "$t0")")")
}
ok() { say "ok   $*"; }
bad() { echo "test-appliance: FAIL $*" >&2; FAILURES=$((FAILURES + 1)); }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages, starts dockerd and resets iptables)"

compose() { # compose private|public ARGS...
    local side=$1
    shift
    if docker compose version >/dev/null 2>&1; then
        docker compose --ansi never -f "compose/$side.yml" -p "synthgate-$side" "$@"
    else
        docker-compose --ansi never -f "compose/$side.yml" -p "synthgate-$side" "$@"
    fi
}

cleanup() {
    local rc=$?
    set +e
    if docker info >/dev/null 2>&1; then
        "${APPLIANCE[@]}" down
        docker ps -aq --filter label=synthgate-test=1 | xargs -r docker rm -f >/dev/null
        docker network ls -q --filter name=synthgate- | xargs -r docker network rm >/dev/null 2>&1
        # the images (and build stages) that this run's builds replaced; all carry this label
        docker image prune -f --filter label=synthgate.appliance >/dev/null
    fi
    if [ -n "$DOCKERD_PID" ]; then
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        say "stopped the dockerd this test started (pid $DOCKERD_PID)"
    fi
    # dockerd sets the FORWARD policy to DROP and does not restore it.
    iptables -P FORWARD ACCEPT 2>/dev/null
    rm -rf "$SYNTHGATE_OUT"
    exit $rc
}
trap cleanup EXIT

# --- engine ----------------------------------------------------------------------------------
install_engine() {
    local missing=()
    command -v docker >/dev/null || missing+=(docker.io)
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v iptables >/dev/null || missing+=(iptables)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l apt-get install -y -q \
            $(printf '%s\n' "${missing[@]}" | sort -u); } >/tmp/test-appliance-apt.log 2>&1 \
            || { tail -n 20 /tmp/test-appliance-apt.log >&2; die "installing ${missing[*]} failed"; }
    fi
}
start_engine() {
    docker info >/dev/null 2>&1 && { say "using the Docker engine already running"; return; }
    dockerd >/tmp/dockerd.log 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && { say "started dockerd (pid $DOCKERD_PID)"; return; }
        kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited (log: /tmp/dockerd.log)"
        sleep 0.5
    done
    die "dockerd did not answer within 60 s (log: /tmp/dockerd.log)"
}
timed "engine install" install_engine
timed "engine start" start_engine

# --- images ------------------------------------------------------------------------------------
timed "base image" bash scripts/base-image.sh
for image in agent builder db; do
    timed "image $image" bash scripts/appliance-images.sh "$image"
done
IMAGE_SIZES=$(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
    | grep -E "^($BASE_IMAGE|$AGENT_IMAGE|$BUILDER_IMAGE|$DB_IMAGE) " || true)

# --- bad input: each is one line and a non-zero exit ---------------------------------------
# expect_error DESCRIPTION PATTERN COMMAND...: a non-zero exit, and one line that matches PATTERN.
# expect_help DESCRIPTION PATTERN COMMAND...: a non-zero exit, and a help text that matches PATTERN.
expect_error() { _expect error "$@"; }
expect_help() { _expect help "$@"; }
_expect() {
    local kind=$1 what=$2 pattern=$3 out rc
    shift 3
    set +e
    out=$("$@" 2>&1)
    rc=$?
    set -e
    if [ $rc -eq 0 ]; then bad "$what: exit 0"; return; fi
    if ! grep -Eq -- "$pattern" <<<"$out"; then bad "$what: output does not match /$pattern/: $out"; return; fi
    if [ "$kind" = help ] && ! grep -q 'Usage:' <<<"$out"; then bad "$what: no help text: $out"; return; fi
    if [ "$kind" = error ] && [ "$(grep -c . <<<"$out")" -ne 1 ]; then bad "$what: not one line: $out"; return; fi
    ok "$what (exit $rc): $(grep -E -m1 -- "$pattern" <<<"$out" | sed 's/^ *//' | cut -c1-150)"
}
RUN=(docker run --rm --label synthgate-test=1 --read-only --tmpfs /tmp --cap-drop ALL
     --security-opt no-new-privileges:true)
for image in "$AGENT_IMAGE" "$BUILDER_IMAGE"; do
    expect_help "$image with no command prints help" 'Usage' "${RUN[@]}" --network none "$image"
    expect_error "$image with a wrong command" 'No such command' "${RUN[@]}" --network none "$image" frobnicate
done
expect_error "agent: unreachable source database" '(could not|cannot|unreachable|resolve|connect)' \
    "${RUN[@]}" --network none -e SRC_DSN=postgresql://reader@source-db:5432/pagila "$AGENT_IMAGE" make-tables
expect_error "agent: output folder not mounted" '/data|denied|writ' \
    "${RUN[@]}" --network none "$AGENT_IMAGE" keygen --out agent

# --- the demo ----------------------------------------------------------------------------------
timed "compose demo (Pagila)" "${APPLIANCE[@]}" demo

# --- the synthetic database ----------------------------------------------------------------
PSQL_DST=(compose public exec -T dest-db psql -X -q -At -v ON_ERROR_STOP=1 -U postgres -d synthetic)
n_tables=$("${PSQL_DST[@]}" -c "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
empty=$("${PSQL_DST[@]}" -c "
    SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
           n.nspname, c.relname), false, true, '')))[1]::text::bigint = 0")
n_rows=$("${PSQL_DST[@]}" -c "
    SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM ONLY %I.%I',
           n.nspname, c.relname), false, true, '')))[1]::text::bigint)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'")
# Every foreign key, checked row by row: a child row whose key columns are all set must have
# its parent (this catches rows loaded with triggers or constraints switched off).
fk_report=$("${PSQL_DST[@]}" -c "
DO \$\$
DECLARE
    fk record; orphans bigint; checked int := 0; broken text := '';
BEGIN
    FOR fk IN
        SELECT con.conname, con.conrelid::regclass AS child, con.confrelid::regclass AS parent,
               (SELECT string_agg(format('c.%I = p.%I', ca.attname, pa.attname), ' AND ' ORDER BY k.i)
                  FROM unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(ck, pk, i)
                  JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck
                  JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk) AS joins,
               (SELECT string_agg(format('c.%I IS NOT NULL', ca.attname), ' AND ')
                  FROM unnest(con.conkey) AS k(ck)
                  JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck) AS notnull
        FROM pg_constraint con
        WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
          AND con.conparentid = 0
    LOOP
        EXECUTE format('SELECT count(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)',
                       fk.child, fk.notnull, fk.parent, fk.joins) INTO orphans;
        checked := checked + 1;
        IF orphans > 0 THEN broken := broken || format(' %s(%s rows)', fk.conname, orphans); END IF;
    END LOOP;
    IF broken <> '' THEN RAISE EXCEPTION 'foreign keys with orphan rows:%', broken; END IF;
    RAISE NOTICE 'fk-checked %', checked;
END
\$\$;" 2>&1) || bad "foreign keys: $fk_report"
n_fks=$(grep -oE 'fk-checked [0-9]+' <<<"$fk_report" | awk '{print $2}')
n_unvalidated=$("${PSQL_DST[@]}" -c "SELECT count(*) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'c') AND NOT convalidated")
[ "${n_tables:-0}" -ge 15 ] && ok "synthetic database: $n_tables tables" || bad "only ${n_tables:-0} tables"
[ "${n_rows:-0}" -gt 0 ] && ok "synthetic database: $n_rows rows" || bad "no rows"
[ -z "$empty" ] && ok "every table has rows" || bad "empty tables: $empty"
[ "${n_fks:-0}" -gt 0 ] && ok "$n_fks foreign keys checked row by row, no orphans" || bad "no foreign keys checked"
[ "$n_unvalidated" = 0 ] && ok "every foreign key and check constraint is validated" || bad "$n_unvalidated constraints not validated"

# --- the lockdown, from inside ----------------------------------------------------------------
dest_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(compose public ps -q dest-db)")
source_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(compose private ps -q source-db)")
LOCKDOWN_PY='
import errno, os, socket, sys
def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "reached"
    except OSError as exc:
        return "blocked"
def writable(path):
    try:
        open(path, "w").close()
        return "writable"
    except OSError as exc:
        return "read-only" if exc.errno == errno.EROFS else "error-%d" % exc.errno
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
print("uid", os.getuid())
print("capeff", status["CapEff"].strip())
print("nonewprivs", status["NoNewPrivs"].strip())
print("rootfs", writable("/var/tmp/probe"))
print("data", writable("/data/.probe"))
print("own-db", reach(sys.argv[1], 5432))
print("other-db", reach(sys.argv[2], 5432))
print("other-db-by-name", reach(sys.argv[3], 5432))
print("outside", reach("1.1.1.1", 443), reach("deb.debian.org", 80))
'
# check_inside SIDE SERVICE OWN_DB OTHER_IP OTHER_NAME: run the probe inside the service exactly
# as compose configures it (same user, mounts, networks, lockdown).
check_inside() {
    local side=$1 service=$2 out
    out=$(compose "$side" run --rm --no-deps -T --entrypoint python3 "$service" -c "$LOCKDOWN_PY" "$3" "$4" "$5" 2>&1) \
        || { bad "$service probe failed: $out"; return; }
    grep -qE '^uid [1-9][0-9]*$' <<<"$out" && ok "$service runs as a non-root user ($(grep ^uid <<<"$out"))" || bad "$service uid: $out"
    grep -qx 'capeff 0000000000000000' <<<"$out" && ok "$service has no capabilities" || bad "$service capabilities: $out"
    grep -qx 'nonewprivs 1' <<<"$out" && ok "$service has no-new-privileges" || bad "$service no-new-privileges: $out"
    grep -qx 'rootfs read-only' <<<"$out" && ok "$service cannot write its root file system" || bad "$service root fs: $out"
    grep -qx 'data writable' <<<"$out" && ok "$service writes its mounted /data" || bad "$service /data: $out"
    grep -qx 'own-db reached' <<<"$out" && ok "$service reaches its own database ($3)" || bad "$service own db: $out"
    grep -qx 'other-db blocked' <<<"$out" && ok "$service cannot reach the other side's database ($4)" || bad "$service other db: $out"
    grep -qx 'other-db-by-name blocked' <<<"$out" && ok "$service cannot reach $5 by name" || bad "$service other db by name: $out"
    grep -qx 'outside blocked blocked' <<<"$out" && ok "$service cannot reach the outside" || bad "$service outside: $out"
    rm -f "$SYNTHGATE_OUT"/*/.probe
}
check_inside private agent source-db "$dest_ip" dest-db
check_inside public builder dest-db "$source_ip" source-db
for image in "$AGENT_IMAGE" "$BUILDER_IMAGE"; do
    user=$(docker image inspect -f '{{.Config.User}}' "$image")
    [ "$user" = 10001:10001 ] && ok "$image runs as $user by default" || bad "$image user '$user'"
done
docker run --rm --entrypoint python3 "$AGENT_IMAGE" -c 'import mimesis' >/dev/null 2>&1 \
    && bad "agent image holds mimesis" || ok "agent image holds no Mimesis"
docker run --rm --entrypoint python3 "$AGENT_IMAGE" -c 'import synthgate_builder' >/dev/null 2>&1 \
    && bad "agent image holds the builder" || ok "agent image holds no builder code"
docker run --rm --entrypoint python3 "$BUILDER_IMAGE" -c 'import synthgate_agent' >/dev/null 2>&1 \
    && bad "builder image holds the agent" || ok "builder image holds no agent code"
for image in "$AGENT_IMAGE" "$BUILDER_IMAGE"; do
    extra=$(docker run --rm --entrypoint sh "$image" -c 'for t in gcc cc make pip pip3 git; do command -v $t; done; ls /root/.cache 2>/dev/null' || true)
    [ -z "$extra" ] && ok "$image has no compiler, pip or caches" || bad "$image holds: $extra"
done

# --- bad input that needs the demo's files -----------------------------------------------------
WORK=$SYNTHGATE_AGENT_WORK
expect_error "agent: missing key secret" 'key' \
    "${RUN[@]}" --user 10001:10001 --network none -v "$WORK:/data" "$AGENT_IMAGE" \
    bundle --key /run/secrets/agent.pem --out /tmp/bundle.tar.gz
expect_error "agent: key readable by others" '(readable|mode)' \
    "${RUN[@]}" --user 10001:10001 --network none -v "$WORK:/data" \
    -v "$ROOT_DIR/tests/data/pagila/LICENSE.txt:/run/secrets/agent.pem:ro" "$AGENT_IMAGE" \
    bundle --key /run/secrets/agent.pem --out /tmp/bundle.tar.gz
expect_error "agent: bundle folder not writable" '(denied|writ|read-only)' \
    "${RUN[@]}" --user 10001:10001 --network none -v "$WORK:/data:ro" \
    -v "$SYNTHGATE_KEY:/run/secrets/agent.pem:ro" "$AGENT_IMAGE" \
    bundle --key /run/secrets/agent.pem --out /data/bundle2.tar.gz
expect_error "builder: bundle folder not mounted" 'bundle.*not found' \
    "${RUN[@]}" --network none -v "$SYNTHGATE_TRUST:/trust:ro" "$BUILDER_IMAGE" \
    verify bundle.tar.gz --trust /trust/agent.pub
expect_error "builder: unreachable destination database" '(could not|cannot|unreachable|resolve|connect)' \
    "${RUN[@]}" --user 10001:10001 --network none -v "$SYNTHGATE_BUILDER_WORK:/data" \
    -v "$SYNTHGATE_TRUST:/trust:ro" -e DST_DSN=postgresql://postgres@dest-db:5432/synthetic \
    "$BUILDER_IMAGE" create-tables --bundle bundle.tar.gz --trust /trust/agent.pub

# --- report ------------------------------------------------------------------------------------
TIMES+=("$(printf '%-28s %7s s' "total" "$(since "$T_START")")")
echo
echo "test-appliance: times"
printf '  %s\n' "${TIMES[@]}"
echo "test-appliance: image sizes"
# shellcheck disable=SC2001
sed 's/^/  /' <<<"$IMAGE_SIZES"
[ "$FAILURES" -eq 0 ] || die "$FAILURES check(s) failed"
say "PASSED"
