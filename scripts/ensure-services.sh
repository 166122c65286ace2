#!/usr/bin/env bash
# Make sure the PostgreSQL and MariaDB servers the tests use answer on 127.0.0.1.
# Starts them when they are down; installs them from Debian's packages when missing.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
maria_up() { mysqladmin -h 127.0.0.1 -P 3306 -uroot --silent ping >/dev/null 2>&1; }

apt_install() {
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
  # trust authentication for local test connections, as on the CI machines
  psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1 || {
    hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)"
    $SUDO sed -i -E 's/(host\s+all\s+all\s+127.0.0.1\/32\s+)\S+/\1trust/' "$hba"
    $SUDO sed -i -E 's/(local\s+all\s+postgres\s+)\S+/\1trust/' "$hba"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main reload
  }
fi
echo "PostgreSQL: up"

if ! maria_up; then
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
  $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 30); do maria_up && break; sleep 1; done
  maria_up || { echo "MariaDB does not answer on 127.0.0.1:3306" >&2; exit 1; }
fi
echo "MariaDB: up"
