#!/usr/bin/env bash
# Build the appliance images one at a time, from BASE_IMAGE alone, and print each build's
# time and size.
#
#   BASE_IMAGE=debian:bookworm-slim      base of every image (synthgate/debian-base:* is built
#                                        by scripts/base-image.sh when it is missing)
#   AGENT_IMAGE=synthgate/agent:latest   BUILDER_IMAGE=synthgate/builder:latest
#   DB_IMAGE=postgres:16                 demo database image; synthgate/postgres:* is built here
#                                        from BASE_IMAGE (Debian's postgresql package)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, HTTP(S)_PROXY, NO_PROXY
#                                        passed to the build stages when set (or, for pip,
#                                        when the host's pip config names an http(s) index)
#
# usage: appliance-images.sh [agent] [builder] [db]     (default: all three)
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT_DIR"
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
AGENT_IMAGE=${AGENT_IMAGE:-synthgate/agent:latest}
BUILDER_IMAGE=${BUILDER_IMAGE:-synthgate/builder:latest}
DB_IMAGE=${DB_IMAGE:-postgres:16}

die() { echo "images: $*" >&2; exit 1; }
docker info >/dev/null 2>&1 || die "no Docker engine answers; fix: start dockerd (or run make test-appliance)"

if [[ $BASE_IMAGE == synthgate/debian-base:* ]] && ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    BASE_IMAGE=$BASE_IMAGE bash scripts/base-image.sh
fi

# The host's extra CA certificates go into the build context (build/ is gitignored and the
# only part of it that .dockerignore lets in); the build stage trusts them.
rm -rf build/ca-certificates
mkdir -p build/ca-certificates
shopt -s nullglob
certs=(/usr/local/share/ca-certificates/*.crt)
[ ${#certs[@]} -eq 0 ] || cp "${certs[@]}" build/ca-certificates/

# pip's index from the environment, else from the host's pip config when it is reachable
# from a container (http or https; file:// indexes exist only on the host).
pip_setting() {
    local env_name=$1 key=$2 value
    value=${!env_name:-}
    if [ -z "$value" ] && command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
        value=$(python3 -m pip config get "global.$key" 2>/dev/null || true)
    fi
    # keep only the http(s) entries of a space-separated list
    value=$(tr ' ' '\n' <<<"$value" | grep -E '^https?://' | paste -sd ' ' - || true)
    printf '%s' "$value"
}
BUILD_ARGS=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
for pair in PIP_INDEX_URL:index-url PIP_EXTRA_INDEX_URL:extra-index-url PIP_TRUSTED_HOST:trusted-host; do
    value=$(pip_setting "${pair%%:*}" "${pair#*:}")
    if [ "${pair%%:*}" = PIP_TRUSTED_HOST ]; then value=${PIP_TRUSTED_HOST:-}; fi
    [ -z "$value" ] || BUILD_ARGS+=(--build-arg "${pair%%:*}=$value")
done
for proxy in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [ -z "${!proxy:-}" ] || BUILD_ARGS+=(--build-arg "$proxy=${!proxy}")
done

size_of() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'; }

build() {
    local name=$1 tag=$2 dockerfile=$3 context=$4 start log
    start=$(date +%s.%N)
    log=build/image-$name.log
    echo "images: building $tag from $BASE_IMAGE ..."
    if ! docker build --pull=false -f "$dockerfile" -t "$tag" "${BUILD_ARGS[@]}" "$context" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        die "building $tag failed (full log: $log)"
    fi
    awk -v n="$name" -v t="$tag" -v s="$(size_of "$tag")" -v t0="$start" -v t1="$(date +%s.%N)" \
        'BEGIN { printf "images: %-8s %-32s %6.1f s  %s\n", n, t, t1 - t0, s }'
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(agent builder db)
for target in "${targets[@]}"; do
    case $target in
        agent) build agent "$AGENT_IMAGE" private-agent/Dockerfile . ;;
        builder) build builder "$BUILDER_IMAGE" public-builder/Dockerfile . ;;
        db)
            if [[ $DB_IMAGE == synthgate/* ]]; then
                build db "$DB_IMAGE" compose/postgres/Dockerfile compose/postgres
            else
                echo "images: db       $DB_IMAGE is an upstream image (pulled by compose); set DB_IMAGE=synthgate/postgres:bookworm to build it from BASE_IMAGE"
            fi
            ;;
        *) die "unknown image '$target' (expected agent, builder or db)" ;;
    esac
done
