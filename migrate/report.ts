// The migration gate's failure report: what ran, how it ended, which budget stopped it (read from
// PostgreSQL's own messages), what that means for the app, and the fix. Pure, so every case is
// tested without a database; the provider fills in what it saw.
import type { EnvironmentName } from "../config/environments";
import { formatMs } from "./lint";

/** Why a migration stopped; "not-started" when it never ran (or the gate lost sight of it). */
export type StopCause = "lock-timeout" | "statement-timeout" | "deadline" | "failed" | "not-started";

// PostgreSQL's messages (SQLSTATE 55P03 and 57014), as psql and most drivers print them.
const LOCK_TIMEOUT = /canceling statement due to lock timeout|\b55P03\b/i;
const STATEMENT_TIMEOUT = /canceling statement due to statement timeout/i;

/** Reads the cause from how the run ended and what it printed. */
export function stopCause(output: string, deadlineReached: boolean): StopCause {
    if (LOCK_TIMEOUT.test(output)) return "lock-timeout";
    if (STATEMENT_TIMEOUT.test(output)) return "statement-timeout";
    return deadlineReached ? "deadline" : "failed";
}

export interface FailureFacts {
    readonly environment: EnvironmentName;
    readonly version: string;
    readonly trigger: string;
    /** What ran and how it ended, e.g. "`./migrate.sh` exited with status 3". */
    readonly outcome: string;
    /** From start to the end of the run. */
    readonly elapsedMs: number;
    readonly lockTimeoutMs: number;
    readonly statementTimeoutMs: number;
    readonly deadlineMs: number;
    readonly cause: StopCause;
    /** Further lines (a Job's pods and events). */
    readonly details?: readonly string[];
    /** The run's output (or the pods' logs), already bounded. */
    readonly output: string;
    /** What the output is, e.g. "output (stdout and stderr, last 64 KiB)". */
    readonly outputLabel: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function failureReport(f: FailureFacts): string {
    const head = `migration failed in ${f.environment} (version ${f.version.slice(0, 19)}…, trigger ${f.trigger.slice(0, 12)}): ${f.outcome} after ${seconds(f.elapsedMs)}.`;
    let why: string;
    let fix: string;
    switch (f.cause) {
        case "lock-timeout":
            why =
                `Stopped by ${f.environment}'s lock budget: lock_timeout=${formatMs(f.lockTimeoutMs)}. Another session held a lock the migration needed; ` +
                "waiting longer would have queued every query on that table behind the migration.";
            fix =
                "Fix: find the long transaction (SELECT pid, now() - xact_start AS open_for, state, query FROM pg_stat_activity WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 5), " +
                "let it finish or end it (pg_terminate_backend), then run `pulumi up` again.";
            break;
        case "statement-timeout":
            why = `Stopped by ${f.environment}'s statement budget: statement_timeout=${formatMs(f.statementTimeoutMs)}. One statement ran longer than that.`;
            fix =
                "Fix: make the statement cheaper (backfill in batches, CREATE INDEX CONCURRENTLY, add constraints NOT VALID then VALIDATE), " +
                "or, if this environment can afford it, raise the budget for this stack: pulumi config set migrationStatementTimeout <duration>.";
            break;
        case "deadline":
            why = `Stopped at the migration's deadline (migrationDeadline ${formatMs(f.deadlineMs)}).`;
            fix = "Fix: see the output for where it was; split the migration, or raise migrationDeadline for this stack.";
            break;
        case "not-started":
            why = "The gate could not run the migration, or lost sight of it.";
            fix =
                "Fix: see what failed above (the cluster's API server, the namespace, the kubeconfig context, the command's directory), then run `pulumi up` again.";
            break;
        default:
            why = "The migration itself failed.";
            fix = "Fix: see the output below, correct the migration, then run `pulumi up` again.";
    }
    const shown = f.output.trim() === "" ? "(nothing)" : f.output.replace(/\n$/, "");
    return [
        head,
        why,
        "The app was not updated: it is deployed only after its migration succeeds. The next `pulumi up` runs the migration again.",
        fix,
        ...(f.details ?? []),
        `${f.outputLabel}:`,
        shown,
    ].join("\n");
}

/** A failed migration; the message is the report. */
export class MigrationFailedError extends Error {
    override name = "MigrationFailedError";
    constructor(
        readonly stop: StopCause,
        message: string,
    ) {
        super(message);
    }
}
