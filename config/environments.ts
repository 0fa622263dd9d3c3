// The one place that decides each per-environment fact. Config defaults, components, the policy
// pack and the CLI all read this table, so "prod needs 3 replicas" is never written twice.

export const ENVIRONMENTS = ["dev", "staging", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

export interface EnvironmentRules {
    /** The environment this progression deploys after, or undefined for the first one. */
    readonly promotesFrom: EnvironmentName | undefined;
    /** Fewest replicas the app may run with. */
    readonly minReplicas: number;
    /** Pod Security Admission: the level enforced, and the stricter level warned and audited. */
    readonly podSecurity: { readonly enforce: PodSecurityLevel; readonly warn: PodSecurityLevel };
    /** How the policy pack treats a violation in this environment. */
    readonly enforcement: "advisory" | "mandatory";
    /** Whether the image must carry an explicit, non-`latest` tag. */
    readonly requireImageTag: boolean;
    /** Whether the image must be pinned by digest (`@sha256:...`). */
    readonly requireImageDigest: boolean;
    /**
     * PodDisruptionBudget maxUnavailable when replicas > 1. A percentage scales with the replica
     * count, so a 50-replica prod drains a node a few pods at a time instead of one by one.
     */
    readonly pdbMaxUnavailable: number | string;
    /** The rollout's maxUnavailable: 0 means new pods are Ready before an old one goes, so capacity never dips. */
    readonly rolloutMaxUnavailable: number | string;
    /**
     * Scheduled drift detection by Pulumi Deployments (cron, UTC), and whether a run also corrects
     * the drift it finds; undefined for none. A correction is an `up`: in an environment that
     * promotes onward it would start the next environment's deployment, so only detection is used.
     */
    readonly driftDetection: { readonly schedule: string; readonly remediate: boolean } | undefined;
    /** Whether an `up` waits for a person to approve it (a GitHub environment with required reviewers). */
    readonly requiresApproval: boolean;
    /**
     * How long a migration statement may wait for a lock (PostgreSQL `lock_timeout`). A statement
     * waiting for a lock blocks every query queued behind it, so the budget shrinks with traffic.
     */
    readonly lockTimeoutMs: number;
    /** How long one migration statement may run in all (PostgreSQL `statement_timeout`). */
    readonly statementTimeoutMs: number;
    /**
     * Pods the previous verified revision keeps after a switch, ready to take live traffic back
     * at once (rollback scales it to full size while it already serves). Fewer than the app's
     * replicas, since they idle; enough that the first seconds after a rollback hold.
     */
    readonly warmReplicas: number;
}

export const ENVIRONMENT_RULES: Readonly<Record<EnvironmentName, EnvironmentRules>> = {
    dev: {
        promotesFrom: undefined,
        minReplicas: 1,
        podSecurity: { enforce: "baseline", warn: "restricted" },
        enforcement: "advisory",
        requireImageTag: false,
        requireImageDigest: false,
        pdbMaxUnavailable: 1,
        rolloutMaxUnavailable: "25%",
        driftDetection: undefined,
        requiresApproval: false,
        lockTimeoutMs: 5_000,
        statementTimeoutMs: 60_000,
        // One pod: dev has one, and a rollback there only has to answer.
        warmReplicas: 1,
    },
    staging: {
        promotesFrom: "dev",
        minReplicas: 2,
        podSecurity: { enforce: "restricted", warn: "restricted" },
        enforcement: "mandatory",
        requireImageTag: true,
        requireImageDigest: false,
        pdbMaxUnavailable: 1,
        rolloutMaxUnavailable: 0,
        driftDetection: { schedule: "47 */6 * * *", remediate: false },
        requiresApproval: false,
        lockTimeoutMs: 2_000,
        statementTimeoutMs: 30_000,
        // One pod: staging's traffic is the team's; a rollback must answer, not carry load.
        warmReplicas: 1,
    },
    prod: {
        promotesFrom: "staging",
        minReplicas: 3,
        podSecurity: { enforce: "restricted", warn: "restricted" },
        enforcement: "mandatory",
        requireImageTag: true,
        requireImageDigest: true,
        pdbMaxUnavailable: "10%",
        rolloutMaxUnavailable: 0,
        driftDetection: { schedule: "17 * * * *", remediate: false },
        requiresApproval: true,
        lockTimeoutMs: 1_000,
        statementTimeoutMs: 15_000,
        // prod's minimum: one pod would fall over under prod's traffic in the seconds before the
        // rest of a rollback's pods are ready.
        warmReplicas: 3,
    },
};

export function isEnvironmentName(value: unknown): value is EnvironmentName {
    return typeof value === "string" && (ENVIRONMENTS as readonly string[]).includes(value);
}
