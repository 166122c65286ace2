#!/usr/bin/env bash
# Run the synthgate appliance with compose: the private side (agent + source database) makes
# a signed bundle, a reviewer approves it, the bundle crosses to the public side (builder +
# destination database), which verifies it and builds the synthetic database.
#
# usage: compose/appliance.sh STEP...
#   keys      make the agent's signing key and the reviewer's key (once; kept in out/appliance)
#   bundle    agent: generate-config (only when config.yaml is missing), make-tables, make-stats,
#             make-vocab, bundle  -> out/appliance/private/bundle.tar.gz
#   review    agent: review.html / review.md of the bundle, then the reviewer approves it
#   handover  copy the bundle and the public keys across (the air gap, simulated)
#   synth     builder: verify, create-generators, create-tables, create-vocab, create-data
#   summary   print the synthetic database's tables and row counts
#   demo      down, keys, bundle, review, handover, synth, summary
#   down      stop both sides and delete their database volumes
#
# Settings: SYNTHGATE_OUT (out/appliance), SYNTHGATE_AGENT_IMAGE, SYNTHGATE_BUILDER_IMAGE,
# SYNTHGATE_DB_IMAGE (postgres:16), SCALE (1: the source row counts), VOCAB_TABLES (the tables a fresh
# config.yaml marks vocabulary_table: true; "category city country language"), and those
# listed in private.yml/public.yml.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$HERE/.." && pwd)
OUT=${SYNTHGATE_OUT:-$ROOT_DIR/out/appliance}
SCALE=${SCALE:-1}
VOCAB_TABLES=${VOCAB_TABLES-category city country language}
AGENT_IMAGE=${SYNTHGATE_AGENT_IMAGE:-synthgate/agent:latest}
export SYNTHGATE_AGENT_IMAGE=$AGENT_IMAGE
export SYNTHGATE_BUILDER_IMAGE=${SYNTHGATE_BUILDER_IMAGE:-synthgate/builder:latest}
export SYNTHGATE_DB_IMAGE=${SYNTHGATE_DB_IMAGE:-postgres:16}
export SYNTHGATE_AGENT_WORK=${SYNTHGATE_AGENT_WORK:-$OUT/private}
export SYNTHGATE_BUILDER_WORK=${SYNTHGATE_BUILDER_WORK:-$OUT/public}
export SYNTHGATE_TRUST=${SYNTHGATE_TRUST:-$OUT/trust}
export SYNTHGATE_KEY=${SYNTHGATE_KEY:-$OUT/secrets/agent.pem}
REVIEWER_DIR=${SYNTHGATE_REVIEWER_DIR:-$OUT/reviewer}

# The containers run as the image's non-root user (10001) when started by root, and as the
# calling user otherwise, so that the mounted folders and the key belong to them.
if [ "$(id -u)" = 0 ]; then
    export SYNTHGATE_UID=${SYNTHGATE_UID:-10001} SYNTHGATE_GID=${SYNTHGATE_GID:-10001}
else
    export SYNTHGATE_UID=${SYNTHGATE_UID:-$(id -u)} SYNTHGATE_GID=${SYNTHGATE_GID:-$(id -g)}
fi

die() { echo "appliance: $*" >&2; exit 1; }
say() { echo "appliance: $*"; }

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
else
    die "neither 'docker compose' nor 'docker-compose' is installed; fix: apt-get install docker-compose"
fi
private() { "${COMPOSE[@]}" --ansi never -f "$HERE/private.yml" -p synthgate-private "$@"; }
public() { "${COMPOSE[@]}" --ansi never -f "$HERE/public.yml" -p synthgate-public "$@"; }
agent() { private run --rm agent "$@"; }
builder() { public run --rm builder "$@"; }

# A folder the containers' user may write (and nobody else may read, for key folders).
own_dir() {
    local dir=$1 mode=$2
    mkdir -p "$dir"
    chmod "$mode" "$dir"
    if [ "$(id -u)" = 0 ]; then chown "$SYNTHGATE_UID:$SYNTHGATE_GID" "$dir"; fi
}

# A one-off, locked-down agent container with no network, for key work.
agent_offline() {
    docker run --rm --user "$SYNTHGATE_UID:$SYNTHGATE_GID" --read-only --cap-drop ALL \
        --security-opt no-new-privileges:true --network none "$@"
}

step_keys() {
    own_dir "$(dirname "$SYNTHGATE_KEY")" 0700
    own_dir "$REVIEWER_DIR" 0700
    own_dir "$SYNTHGATE_TRUST" 0755
    local key_dir stem
    key_dir=$(dirname "$SYNTHGATE_KEY")
    stem=$(basename "$SYNTHGATE_KEY" .pem)
    if [ ! -e "$SYNTHGATE_KEY" ]; then
        agent_offline -v "$key_dir:/keys" "$AGENT_IMAGE" keygen --out "/keys/$stem"
    fi
    if [ ! -e "$REVIEWER_DIR/reviewer.pem" ]; then
        agent_offline -v "$REVIEWER_DIR:/keys" "$AGENT_IMAGE" keygen --out /keys/reviewer
    fi
    cp "$key_dir/$stem.pub" "$SYNTHGATE_TRUST/agent.pub"
    cp "$REVIEWER_DIR/reviewer.pub" "$SYNTHGATE_TRUST/reviewer.pub"
    chmod 0644 "$SYNTHGATE_TRUST"/*.pub
}

step_bundle() {
    [ -f "$SYNTHGATE_KEY" ] || die "no agent key at $SYNTHGATE_KEY; fix: compose/appliance.sh keys"
    own_dir "$SYNTHGATE_AGENT_WORK" 0755
    private up -d source-db
    if [ ! -e "$SYNTHGATE_AGENT_WORK/config.yaml" ]; then
        local vocab=()
        for table in $VOCAB_TABLES; do vocab+=(--vocabulary "$table"); done
        agent generate-config "${vocab[@]}"
    fi
    agent make-tables --force
    agent make-stats --force
    agent make-vocab --compress --force
    agent bundle --key /run/secrets/agent.pem --force
    say "bundle ready: $SYNTHGATE_AGENT_WORK/bundle.tar.gz"
}

step_review() {
    [ -f "$SYNTHGATE_AGENT_WORK/bundle.tar.gz" ] || die "no bundle at $SYNTHGATE_AGENT_WORK/bundle.tar.gz; fix: make bundle"
    agent_offline -v "$SYNTHGATE_AGENT_WORK:/data" -v "$SYNTHGATE_TRUST:/trust:ro" "$AGENT_IMAGE" \
        review bundle.tar.gz --trust /trust/agent.pub --force
    say "review report: $SYNTHGATE_AGENT_WORK/review.html"
    # The reviewer's countersignature; in real life the reviewer runs this on their own machine.
    agent_offline -v "$SYNTHGATE_AGENT_WORK:/data" -v "$REVIEWER_DIR:/keys:ro" "$AGENT_IMAGE" \
        approve bundle.tar.gz --key /keys/reviewer.pem
}

step_handover() {
    [ -f "$SYNTHGATE_AGENT_WORK/bundle.tar.gz" ] || die "no bundle at $SYNTHGATE_AGENT_WORK/bundle.tar.gz; fix: make bundle"
    own_dir "$SYNTHGATE_BUILDER_WORK" 0755
    cp "$SYNTHGATE_AGENT_WORK/bundle.tar.gz" "$SYNTHGATE_BUILDER_WORK/bundle.tar.gz"
    chmod 0644 "$SYNTHGATE_BUILDER_WORK/bundle.tar.gz"
    say "bundle handed across: $SYNTHGATE_BUILDER_WORK/bundle.tar.gz"
}

step_synth() {
    [ -f "$SYNTHGATE_BUILDER_WORK/bundle.tar.gz" ] || die "no bundle at $SYNTHGATE_BUILDER_WORK/bundle.tar.gz; fix: make bundle review, then hand it across"
    [ -f "$SYNTHGATE_TRUST/agent.pub" ] || die "no trusted agent key at $SYNTHGATE_TRUST/agent.pub"
    local from=(--bundle bundle.tar.gz --trust /trust/agent.pub)
    [ ! -f "$SYNTHGATE_TRUST/reviewer.pub" ] || from+=(--require-approval /trust/reviewer.pub)
    public up -d dest-db
    builder verify bundle.tar.gz "${from[@]:2}"
    builder create-generators "${from[@]}" --force
    builder create-tables "${from[@]}"
    builder create-vocab "${from[@]}"
    builder create-data "${from[@]}" --scale "$SCALE" --seed 1
}

step_summary() {
    public exec -T dest-db psql -X -q -U postgres -d synthetic -c "
        SELECT c.relname AS table,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
                    n.nspname, c.relname), false, true, '')))[1]::text::bigint AS rows
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        ORDER BY 1"
}

step_down() {
    private down -v --remove-orphans >/dev/null 2>&1 || true
    public down -v --remove-orphans >/dev/null 2>&1 || true
}

step_demo() {
    step_down
    rm -rf "$SYNTHGATE_AGENT_WORK" "$SYNTHGATE_BUILDER_WORK"
    step_keys
    step_bundle
    step_review
    step_handover
    step_synth
    step_summary
    say "demo done: bundle $SYNTHGATE_AGENT_WORK/bundle.tar.gz, review $SYNTHGATE_AGENT_WORK/review.html"
}

[ $# -gt 0 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
for step in "$@"; do
    case $step in
        keys|bundle|review|handover|synth|summary|demo|down) "step_$step" ;;
        *) die "unknown step '$step' (expected keys, bundle, review, handover, synth, summary, demo or down)" ;;
    esac
done
