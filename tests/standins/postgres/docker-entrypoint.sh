#!/bin/bash
# Like the official image's entrypoint: on the first start, initialise PGDATA with the
# superuser POSTGRES_USER (default postgres) and password POSTGRES_PASSWORD (required),
# create POSTGRES_DB (default: the user's name), accept password logins from the
# network; then run the server as the postgres user.
set -o errexit -o nounset -o pipefail

if [[ ${1:-} == -* ]]; then
  set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]]; then
  exec "$@"
fi
shift

as_postgres() {
  setpriv --reuid=postgres --regid=postgres --init-groups "$@"
}

user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  : "${POSTGRES_PASSWORD:?Database is uninitialized and POSTGRES_PASSWORD is not set}"
  password_file=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$password_file"
  chown postgres "$password_file"
  as_postgres initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [[ $database != postgres ]]; then
    echo "CREATE DATABASE \"$database\"" | as_postgres postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
