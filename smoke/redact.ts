// Redaction of secret header values. It works on the finished report (every string in it), not
// on selected fields, so a server that echoes a token back in an error body cannot leak it.
import { REDACTED, redactString } from "../proc/redact";
import type { Check } from "./types";

export { REDACTED, redactString };

const SENSITIVE_NAME = /authorization|cookie|token|secret|password|passwd|api[-_]?key|session|credential/i;

/** True for header names whose values must never appear in a report. */
export function isSensitiveHeader(name: string): boolean {
    return SENSITIVE_NAME.test(name);
}

/**
 * The secret strings of a run: every value of the shared (secret) headers and the values of
 * credential-like headers of checks. For `Scheme credentials` values (e.g. `Bearer abc`) the
 * credentials part is a secret on its own too, since servers often echo just the token.
 */
export function collectSecrets(shared: Readonly<Record<string, string>> | undefined, checks: readonly Check[]): string[] {
    const values: string[] = Object.values(shared ?? {});
    for (const check of checks) {
        for (const [name, value] of Object.entries(check.headers ?? {})) {
            if (isSensitiveHeader(name)) values.push(value);
        }
    }
    const secrets = new Set<string>();
    for (const v of values) {
        const trimmed = v.trim();
        if (trimmed.length === 0) continue;
        secrets.add(trimmed);
        const m = /^[A-Za-z][\w.+-]*\s+(\S.*)$/.exec(trimmed);
        if (m?.[1]) secrets.add(m[1]);
    }
    // Longest first, so "Bearer abc" is replaced whole before "abc" alone.
    return [...secrets].sort((a, b) => b.length - a.length);
}


/** Returns a deep copy of `value` with every secret replaced in every string. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
    if (secrets.length === 0) return value;
    const walk = (v: unknown): unknown => {
        if (typeof v === "string") return redactString(v, secrets);
        if (Array.isArray(v)) return v.map(walk);
        if (v !== null && typeof v === "object") {
            return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactString(k, secrets), walk(x)]));
        }
        return v;
    };
    return walk(value) as T;
}
