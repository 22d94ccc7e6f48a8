#!/bin/sh
# The one login PgBouncer accepts (the app's role) from the environment, then PgBouncer.
# PgBouncer keeps the password to log in to PostgreSQL with SCRAM on the app's behalf.
set -eu
: "${PGBOUNCER_USER:?set PGBOUNCER_USER to the app role}"
: "${PGBOUNCER_PASSWORD:?set PGBOUNCER_PASSWORD to the app role password}"
umask 077
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" > /tmp/userlist.txt
exec pgbouncer "${PGBOUNCER_INI:-/etc/pgbouncer/pgbouncer.ini}"
