// The failure limit as stack configuration: `env-progression:smokeFailureLimit`. A small
// validator of its own, so the config edge can report it with every other problem.
//
// An assertion failure (the app answers, and answers wrong) repeated the same way this many times
// in a row, after the rollout has finished, fails the check for good and `pulumi up` with it,
// instead of waiting out the deadline. Transport errors and 5xx answers never count: they keep
// retrying until the deadline. 0 turns the limit off.

export const FAILURE_LIMIT = { min: 0, max: 100, default: 3 } as const;

export const FAILURE_LIMIT_KEY = "smokeFailureLimit";

/**
 * Reads `smokeFailureLimit` from raw stack config (a number, or the string `pulumi config set`
 * stores). Returns the value, or the problem in the config report's form: key, value seen, what
 * is allowed, the command that fixes it.
 */
export function smokeFailureLimitFromConfig(raw: unknown, stack: string, project = "env-progression"): { value: number } | { problem: string } {
    if (raw === undefined || raw === null || raw === "") return { value: FAILURE_LIMIT.default };
    const text = typeof raw === "number" ? String(raw) : typeof raw === "string" ? raw.trim() : undefined;
    const value = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isInteger(value) && value >= FAILURE_LIMIT.min && value <= FAILURE_LIMIT.max) return { value };
    return {
        problem:
            `${project}:${FAILURE_LIMIT_KEY}: ${JSON.stringify(raw)} is not allowed. Allowed: a whole number from ${FAILURE_LIMIT.min} to ${FAILURE_LIMIT.max} ` +
            `(how many times in a row an assertion must fail the same way before the smoke check fails for good; 0 waits for the deadline). ` +
            `Fix: pulumi config set ${FAILURE_LIMIT_KEY} ${FAILURE_LIMIT.default} -s ${stack}`,
    };
}
