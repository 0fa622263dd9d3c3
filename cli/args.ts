// Small shared helpers for CLI argument parsing, on node:util's parseArgs.
import { parseDurationMs } from "../config/schema";

/** A bad command line: the dispatcher prints the message and exits 2. */
export class UsageError extends Error {
    override name = "UsageError";
}

/**
 * Parses a duration such as `500ms`, `5s`, `2m` (the stack config's forms; a bare number also
 * means milliseconds here) into milliseconds. Throws UsageError naming the flag, the value and
 * the accepted forms.
 */
export function parseDuration(flag: string, value: string): number {
    const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) : parseDurationMs(value);
    if (ms === undefined) {
        throw new UsageError(`${flag} '${value}' is not a duration; use a number with ms, s or m (e.g. 500ms, 5s, 2m)`);
    }
    return ms;
}
