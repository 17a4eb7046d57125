#!/usr/bin/env bash
# The PostgreSQL server for the suite's second run: prints its SQLAlchemy URL on stdout, or
# nothing and the reason on stderr. Used as it is where one answers on 127.0.0.1:5432 to
# user postgres without a password (as on this project's machines); else, when we are root
# on Debian, postgresql is installed and its cluster started, with a role for the tests.
set -uo pipefail
PYTHON=${1:-.venv/bin/python}
HOST=127.0.0.1
PORT=5432

answers() {  # $1: URL; true when it accepts a connection
  "$PYTHON" - "$1" <<'EOF' >/dev/null 2>&1
import sys
import psycopg
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1])
psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                dbname="postgres", connect_timeout=5).close()
EOF
}

TRUSTED="postgresql+psycopg://postgres@$HOST:$PORT/"
OWN="postgresql+psycopg://kbtest:kbtest@$HOST:$PORT/"
if answers "$TRUSTED"; then echo "$TRUSTED"; exit 0; fi
if answers "$OWN"; then echo "$OWN"; exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "no PostgreSQL answers on $HOST:$PORT and we are not root on Debian to install it" >&2
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
    >/dev/null || { echo "apt-get could not install postgresql" >&2; exit 0; }
fi
VERSION=$(ls /etc/postgresql | sort -V | tail -1)
pg_ctlcluster "$VERSION" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h "$HOST" -p "$PORT" && break
  sleep 1
done
runuser -u postgres -- psql -q -p "$PORT" -c \
  "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kbtest') THEN
     CREATE ROLE kbtest LOGIN CREATEDB PASSWORD 'kbtest'; END IF; END \$\$;" >/dev/null 2>&1
if answers "$OWN"; then echo "$OWN"; exit 0; fi
echo "PostgreSQL $VERSION was started but does not accept kbtest on $HOST:$PORT" >&2
exit 0
