#!/usr/bin/env bash
# Stand-in for docker-entrypoint.sh of the official postgres image, written for these tests
# from the image's documented behaviour: on an empty $PGDATA, initialise a cluster whose
# superuser is $POSTGRES_USER with $POSTGRES_PASSWORD, accept password logins from anywhere
# ($POSTGRES_HOST_AUTH_METHOD, scram-sha-256 by default) and listen on every address, create
# $POSTGRES_DB, run /docker-entrypoint-initdb.d; then run the command. As root it drops to the
# image's postgres user first; as a user the image does not know, it lends that user a name
# through nss_wrapper where initdb needs one.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  exec setpriv --reuid postgres --regid postgres --init-groups -- "$0" "$@"
fi

mkdir -p "$PGDATA"
chmod 0700 "$PGDATA" 2>/dev/null || :

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)." >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  database=${POSTGRES_DB:-$user}
  wrapper=$(echo /usr/lib/*/libnss_wrapper.so)
  if ! getent passwd "$(id -u)" > /dev/null && [ -e "$wrapper" ]; then
    NSS_WRAPPER_PASSWD=$(mktemp)
    NSS_WRAPPER_GROUP=$(mktemp)
    echo "postgres:x:$(id -u):$(id -g):PostgreSQL:$PGDATA:/bin/false" > "$NSS_WRAPPER_PASSWD"
    echo "postgres:x:$(id -g):" > "$NSS_WRAPPER_GROUP"
    export LD_PRELOAD=$wrapper NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
  initdb --username="$user" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") ${POSTGRES_INITDB_ARGS:-}
  unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"

  PGUSER=$user pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  if [ "$database" != postgres ]; then
    # psql quotes the name as an identifier (`:"db"`), which it does on standard input only.
    printf 'CREATE DATABASE :"db";\n' | psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" \
      --dbname postgres --set db="$database"
  fi
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh) . "$script" ;;
      *.sql) psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" --dbname "$database" -f "$script" ;;
      *) ;;
    esac
  done
  PGUSER=$user pg_ctl -D "$PGDATA" -m fast -w stop
  echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
