#!/bin/sh
# The reference app's migration runner: applies each .sql file of $MIGRATIONS_DIR (this
# directory by default) not yet recorded in schema_migrations, in name order, with psql.
# Any libpq client honours PGOPTIONS, which the migration gate sets to the environment's
# lock_timeout and statement_timeout. Needs DATABASE_URL.
set -eu
dir=${MIGRATIONS_DIR:-$(dirname "$0")}
: "${DATABASE_URL:?DATABASE_URL is not set: the migration needs the database it migrates}"
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }

psql -c "SET client_min_messages TO warning" -c "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
applied=$(psql -tA -c "SELECT version FROM schema_migrations")
for file in "$dir"/*.sql; do
    version=$(basename "$file" .sql)
    if printf '%s\n' "$applied" | grep -qxF "$version"; then
        continue
    fi
    echo "applying $version"
    # Statement by statement, not one transaction: CREATE INDEX CONCURRENTLY cannot run in one,
    # and each statement is written to be safe to run again.
    psql -f "$file"
    # Through stdin: psql substitutes variables there (quoted by :'v'), never in -c.
    echo "INSERT INTO schema_migrations (version) VALUES (:'v')" | psql -v v="$version"
done
echo "schema at $(psql -tA -c "SELECT max(version) FROM schema_migrations")"
