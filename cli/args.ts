// Small shared helpers for CLI argument parsing, on node:util's parseArgs.

/** A bad command line: the dispatcher prints the message and exits 2. */
export class UsageError extends Error {
    override name = "UsageError";
}

/**
 * Parses a duration such as `500ms`, `5s`, `2m` (a bare number means milliseconds) into
 * milliseconds. Throws UsageError naming the flag, the value and the accepted forms.
 */
export function parseDuration(flag: string, value: string): number {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
    if (!m) {
        throw new UsageError(`${flag} '${value}' is not a duration; use a number with ms, s or m (e.g. 500ms, 5s, 2m)`);
    }
    const n = Number(m[1]);
    const unit = m[2] ?? "ms";
    return Math.round(n * (unit === "m" ? 60_000 : unit === "s" ? 1000 : 1));
}
