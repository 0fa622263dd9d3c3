// What a migration process sees of its budgets, the same whether the gate runs it as a command on
// the deploying machine (migrate/provider.ts) or as a Job in the cluster (components/migrationManifests.ts).

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
