#!/bin/sh
# Streaming replication from this server (docker-compose.yml: db -> db-replica).
# A role that may only replicate, and the pg_hba line that lets it connect; the
# postgres image runs this once, when the volume is first created, and restarts
# the server afterwards (which reads the new pg_hba line).
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  --set=password="$MO_LOANS_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
