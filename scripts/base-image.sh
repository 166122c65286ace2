#!/usr/bin/env bash
# Build a Debian bookworm base image with no registry: debootstrap --variant=minbase from
# the Debian mirror this host's apt uses, trust the host's extra CA certificates (so apt and
# pip work behind a TLS-intercepting proxy), and `docker import` the result.
#
#   BASE_IMAGE=synthgate/debian-base:bookworm  image tag to create (default shown)
#   DEBIAN_MIRROR=http://deb.debian.org/debian  mirror (default: from /etc/apt/sources.list*)
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-synthgate/debian-base:bookworm}
SUITE=bookworm
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT_DIR/build/base-rootfs

die() { echo "base-image: $*" >&2; exit 1; }

# The first Debian (non-security) mirror from apt's sources, deb822 or one-line format.
host_mirror() {
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
    local url
    url=$(cat "${files[@]}" 2>/dev/null | awk '
        /^[[:space:]]*#/ { next }
        /^URIs:/ { for (i = 2; i <= NF; i++) print $i; next }
        /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; break } }
    ' | grep -E '/debian/?$' | grep -v -- '-security' | head -n 1)
    echo "${url:-http://deb.debian.org/debian}"
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it); try: sudo make base-image"
command -v debootstrap >/dev/null || die "debootstrap is not installed; fix: apt-get install debootstrap"
docker info >/dev/null 2>&1 || die "no Docker engine answers; fix: start dockerd"

MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}
SECURITY_MIRROR=${MIRROR%/debian}/debian-security
[ "$SECURITY_MIRROR" != "$MIRROR/debian-security" ] || SECURITY_MIRROR=http://deb.debian.org/debian-security

rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

echo "base-image: debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$WORK" "$MIRROR" >"$ROOT_DIR/build/debootstrap.log" 2>&1 \
    || { tail -n 20 "$ROOT_DIR/build/debootstrap.log" >&2; die "debootstrap failed (log: build/debootstrap.log)"; }

# apt sources of the image: the same mirror, plus updates and security.
cat >"$WORK/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
# Keep later layers small, as debian:*-slim does: no docs, man pages or translations,
# no recommends, no apt caches.
cat >"$WORK/etc/dpkg/dpkg.cfg.d/synthgate-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$WORK/etc/apt/apt.conf.d/90synthgate-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF

# Trust the host's extra CA certificates inside the image.
shopt -s nullglob
certs=(/usr/local/share/ca-certificates/*.crt)
if [ ${#certs[@]} -gt 0 ]; then
    cp "${certs[@]}" "$WORK/usr/local/share/ca-certificates/"
fi
chroot "$WORK" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the image"

# Drop what a container never needs.
rm -rf "$WORK"/var/cache/apt/archives/*.deb "$WORK"/var/cache/apt/*.bin "$WORK"/var/lib/apt/lists/* \
    "$WORK"/usr/share/doc/* "$WORK"/usr/share/man/* "$WORK"/usr/share/info/* "$WORK"/usr/share/locale/* \
    "$WORK"/var/log/*.log "$WORK"/var/log/apt/* "$WORK"/tmp/* "$WORK"/dev/*

tar --numeric-owner -C "$WORK" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --change 'LABEL synthgate.appliance=1' \
    - "$BASE_IMAGE" >/dev/null
echo "base-image: $BASE_IMAGE $(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
