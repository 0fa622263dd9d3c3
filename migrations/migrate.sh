#!/bin/sh
# The reference app's migration runner: applies each .sql file of $MIGRATIONS_DIR (this
# directory by default) not yet recorded in schema_migrations, in name order, with psql.
# Any libpq client honours PGOPTIONS, which the migration gate sets to the environment's
# lock_timeout and statement_timeout. Needs DATABASE_URL (a postgres:// or postgresql:// URL).
#
# - The password never reaches a command line (which every local user can read in /proc): it is
#   taken out of DATABASE_URL and handed to psql in a password file (mode 0600, PGPASSFILE),
#   removed when the run ends.
# - Everything runs in one psql session holding a PostgreSQL advisory lock, so two runners at once
#   (an `up` killed mid-migration and the next one, or two machines) take turns: the second waits
#   for the lock, at most MIGRATION_LOCK_WAIT_MS (default 10 minutes), then applies what is left.
set -eu
dir=${MIGRATIONS_DIR:-$(dirname "$0")}
: "${DATABASE_URL:?DATABASE_URL is not set: the migration needs the database it migrates}"
lock_wait_ms=${MIGRATION_LOCK_WAIT_MS:-600000}
case $lock_wait_ms in
    '' | *[!0-9]*) echo "migrate.sh: MIGRATION_LOCK_WAIT_MS is '$lock_wait_ms'; allowed: a whole number of milliseconds; fix: e.g. MIGRATION_LOCK_WAIT_MS=600000" >&2; exit 2 ;;
esac

case $DATABASE_URL in
    postgres://* | postgresql://*) ;;
    *password*)
        echo "migrate.sh: DATABASE_URL is a key=value connection string with a password, which psql would show on its command line; fix: write it as a URL, postgresql://user:password@host:port/database" >&2
        exit 2
        ;;
esac

# A database that does not answer fails the connection after this long, not the OS's minutes.
PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
export PGCONNECT_TIMEOUT

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/migrate.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The URL without its password (userinfo or a password= parameter), then the password decoded.
# libpq ends the userinfo at the first '@', unless a '/' comes first (then there is none).
LC_ALL=C awk -v work="$work" '
function hexval(c) { return index("0123456789abcdef", tolower(c)) - 1 }
# In a password file, a colon or a backslash is escaped with a backslash.
function passfileEscape(s,    out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); out = out ((c == "\\" || c == ":") ? "\\" : "") c }
    return out
}
function decode(s,    out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "%" && i + 2 <= length(s) && hexval(substr(s, i + 1, 1)) >= 0 && hexval(substr(s, i + 2, 1)) >= 0) {
            out = out sprintf("%c", hexval(substr(s, i + 1, 1)) * 16 + hexval(substr(s, i + 2, 1)))
            i += 2
        } else out = out c
    }
    return out
}
{
    url = $0; password = ""
    p = index(url, "://"); scheme = substr(url, 1, p + 2); rest = substr(url, p + 3)
    at = 0
    for (i = 1; i <= length(rest); i++) { c = substr(rest, i, 1); if (c == "@") { at = i; break } if (c == "/" || c == "?") break }
    if (at > 0) {
        userinfo = substr(rest, 1, at - 1); colon = index(userinfo, ":")
        if (colon > 0) { password = decode(substr(userinfo, colon + 1)); userinfo = substr(userinfo, 1, colon - 1) }
        rest = userinfo "@" substr(rest, at + 1)
    }
    q = index(rest, "?")
    if (q > 0) {
        n = split(substr(rest, q + 1), params, "&"); kept = ""
        for (i = 1; i <= n; i++) {
            if (params[i] ~ /^password=/) password = decode(substr(params[i], 10))
            else kept = kept (kept == "" ? "" : "&") params[i]
        }
        rest = substr(rest, 1, q - 1) (kept == "" ? "" : "?" kept)
    }
    print scheme rest > (work "/url")
    if (password != "") {
        print "*:*:*:*:" passfileEscape(password) > (work "/pgpass")
    }
}' <<URL
$DATABASE_URL
URL
url=$(cat "$work/url")
if [ -f "$work/pgpass" ]; then
    PGPASSFILE="$work/pgpass"
    export PGPASSFILE
fi

# A psql meta-command argument in single quotes: ' doubled, \ escaped.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/''/g")"; }

# One line of the script, as is (printf: sh's echo would read backslashes).
line() { printf '%s\n' "$1"; }

script="$work/run.sql"
{
    line "SET client_min_messages TO warning;"
    line "SELECT pg_try_advisory_lock(hashtext('env-progression:migrations')) AS locked \gset"
    line "\if :locked"
    line "\else"
    line "\echo another migration runner holds the advisory lock; waiting for it (at most $lock_wait_ms ms)"
    # The lock's wait ends at lock_timeout; statement_timeout, a little later, only backs it up.
    line "SET lock_timeout = '${lock_wait_ms}ms'; SET statement_timeout = '$((lock_wait_ms + 5000))ms';"
    line "SELECT pg_advisory_lock(hashtext('env-progression:migrations')) AS locked \gset"
    line "RESET lock_timeout; RESET statement_timeout;"
    line "\endif"
    line "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
    for file in "$dir"/*.sql; do
        [ -f "$file" ] || continue
        version=$(basename "$file" .sql)
        line "\set v $(quote "$version")"
        line "SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = :'v') AS pending \gset"
        line "\if :pending"
        line "\echo applying $(quote "$version")"
        # Statement by statement, not one transaction: CREATE INDEX CONCURRENTLY cannot run in
        # one, and each statement is written to be safe to run again. Settings a file makes end
        # with it: RESET ALL goes back to the session's own (the budgets of PGOPTIONS).
        line "\pset tuples_only off"
        line "\pset format aligned"
        line "\i $(quote "$file")"
        line "\pset tuples_only on"
        line "\pset format unaligned"
        line "RESET ALL; SET client_min_messages TO warning;"
        line "INSERT INTO schema_migrations (version) VALUES (:'v');"
        line "\endif"
    done
    line "SELECT 'schema at ' || coalesce(max(version), '(none)') FROM schema_migrations;"
} >"$script"

command psql -X -q -tA -v ON_ERROR_STOP=1 -d "$url" -f "$script"
