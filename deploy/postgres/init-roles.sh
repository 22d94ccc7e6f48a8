#!/bin/sh
# The database and its two roles (docs/operations.md, "Database roles"):
#   owner: owns the schema; `manage.py migrate` connects as it.
#   app:   what the API connects as; owns nothing, gets its grants from migrate.
# docker-compose.yml mounts this into /docker-entrypoint-initdb.d, so the
# postgres image runs it once, when the database volume is first created. On any
# other server run it the same way as a superuser (PGHOST, PGPORT, PGUSER set):
#   MO_LOANS_OWNER_PASSWORD=… MO_LOANS_APP_PASSWORD=… sh deploy/postgres/init-roles.sh
set -eu
DB="${MO_LOANS_DATABASE:-mo_loans}"
OWNER="${MO_LOANS_OWNER:-mo_loans_owner}"
APP="${MO_LOANS_APP:-mo_loans_app}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-${PGUSER:-postgres}}" \
  --dbname postgres \
  --set=db="$DB" --set=owner="$OWNER" --set=app="$APP" \
  --set=owner_password="$MO_LOANS_OWNER_PASSWORD" --set=app_password="$MO_LOANS_APP_PASSWORD" \
  <<'SQL'
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION PASSWORD :'app_password';
-- The app's own time limits (DATABASE_*_MS) and work_mem travel in its connection options,
-- which PgBouncer drops: the role carries the same defaults.
ALTER ROLE :"app" SET lock_timeout = '5s';
ALTER ROLE :"app" SET statement_timeout = '30s';
ALTER ROLE :"app" SET client_connection_check_interval = '1s';
ALTER ROLE :"app" SET work_mem = '64MB';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
\connect :"db"
-- Only the owner creates objects in public (PostgreSQL 15+ does this already).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
