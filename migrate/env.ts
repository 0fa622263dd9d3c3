// What every migration process sees, in both modes: the environment's budgets as PostgreSQL
// settings and as plain numbers. Used by the provider (command mode) and by the Job's manifest.

/**
 * The environment of every migration process: the budgets as PostgreSQL settings for libpq
 * clients (psql, most drivers) through PGOPTIONS, and as plain numbers for tools that are not.
 * `inherited` is a PGOPTIONS already set; ours come last, so they win.
 */
export function budgetEnv(budgets: { lockTimeoutMs: number; statementTimeoutMs: number }, version: string, inherited?: string): Record<string, string> {
    const ours = `-c lock_timeout=${budgets.lockTimeoutMs}ms -c statement_timeout=${budgets.statementTimeoutMs}ms`;
    return {
        PGOPTIONS: inherited !== undefined && inherited.trim() !== "" ? `${inherited.trim()} ${ours}` : ours,
        MIGRATION_LOCK_TIMEOUT_MS: String(budgets.lockTimeoutMs),
        MIGRATION_STATEMENT_TIMEOUT_MS: String(budgets.statementTimeoutMs),
        MIGRATION_VERSION: version,
    };
}
