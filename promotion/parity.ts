// The parity matrix: every configuration key of every stack, judged by the parity rules. Pure:
// it sees plain values and, for secrets, only a fingerprint the caller made with a key held in
// memory. Nothing it returns or prints carries a secret value or a fingerprint.
import type { EnvironmentName } from "../config/environments";
import { canonicalJson } from "./digest";
import { type Finding, judgeKey, type KeyClass, type KeyValue, type ParityRules, type ResolvedRule, ruleFor } from "./rules";

/** One config value as `pulumi config --json` (the Automation API's getAllConfig) gives it. */
export interface RawConfigValue {
    readonly value: string;
    readonly secret?: boolean;
}

/** A key's value in one stack, ready to compare. */
export type Entry =
    | { readonly secret: false; readonly compare: string; readonly display: string }
    /** `fingerprint` is a keyed hash made by the caller; it never leaves this module's judging. */
    | { readonly secret: true; readonly fingerprint: string };

export interface StackEntries {
    readonly stack: string;
    readonly environment: EnvironmentName | undefined;
    readonly entries: ReadonlyMap<string, Entry>;
}

const scalar = (v: unknown) => (typeof v === "string" ? v : v === null || typeof v !== "object" ? JSON.stringify(v) : canonicalJson(v));

/**
 * Flattens a stack's config into comparable entries: keys of `project` lose their prefix, maps
 * become one key per entry (`featureFlags.newCheckout`), lists stay whole. A secret is handed to
 * `fingerprint` at once and only its fingerprint is kept.
 */
export function flattenConfig(
    stack: string,
    environment: EnvironmentName | undefined,
    config: Readonly<Record<string, RawConfigValue>>,
    project: string,
    fingerprint: (secret: string) => string,
): StackEntries {
    const entries = new Map<string, Entry>();
    for (const [fullKey, { value, secret }] of Object.entries(config)) {
        const key = fullKey.startsWith(`${project}:`) ? fullKey.slice(project.length + 1) : fullKey;
        if (secret === true) {
            entries.set(key, { secret: true, fingerprint: fingerprint(value) });
            continue;
        }
        let parsed: unknown = value;
        const t = value.trim();
        if (t.startsWith("{") || t.startsWith("[")) {
            try {
                parsed = JSON.parse(t);
            } catch {
                parsed = value;
            }
        }
        const walk = (k: string, v: unknown) => {
            if (v !== null && typeof v === "object" && !Array.isArray(v)) {
                for (const [child, cv] of Object.entries(v as Record<string, unknown>)) walk(`${k}.${child}`, cv);
            } else {
                const text = scalar(v);
                entries.set(k, { secret: false, compare: text, display: text });
            }
        };
        walk(key, parsed);
    }
    return { stack, environment, entries };
}

export type RowStatus = "same" | "differs" | "missing" | "secret-reused";

export interface ParityRow {
    readonly key: string;
    readonly rule: ResolvedRule;
    readonly secret: boolean;
    /** Per stack: the plain value, `<secret>`, or undefined when unset. */
    readonly values: Readonly<Record<string, string | undefined>>;
    readonly status: RowStatus;
    /** The rule's verdict, when the row breaks it. */
    readonly violation?: Finding;
}

export interface ParityReport {
    readonly stacks: readonly { readonly stack: string; readonly environment: EnvironmentName | undefined }[];
    readonly rules: string;
    readonly rows: readonly ParityRow[];
    readonly violations: readonly Finding[];
}

export const SECRET_SHOWN = "<secret>";

/** Judges every key of every stack (given in promotion order). */
export function parityMatrix(stacks: readonly StackEntries[], rules: ParityRules): ParityReport {
    const keys = [...new Set(stacks.flatMap((s) => [...s.entries.keys()]))].sort((a, b) => a.localeCompare(b));
    const rows: ParityRow[] = keys.map((key) => {
        const secret = stacks.some((s) => s.entries.get(key)?.secret === true);
        const rule = ruleFor(rules, key, secret);
        const kv: KeyValue[] = stacks.map((s) => {
            const e = s.entries.get(key);
            if (e === undefined) return { stack: s.stack, environment: s.environment, compare: undefined, display: "" };
            // The prefixes keep kinds apart: a key secret in one stack and plain in another never compares equal.
            return e.secret
                ? { stack: s.stack, environment: s.environment, compare: `secret:${e.fingerprint}`, display: SECRET_SHOWN }
                : { stack: s.stack, environment: s.environment, compare: `plain:${e.compare}`, display: e.display, setValue: e.display };
        });
        const set = kv.filter((v) => v.compare !== undefined);
        const distinct = new Set(set.map((v) => v.compare)).size;
        // One value shared on purpose (a must-match secret such as the promotionKey) is not a reuse.
        const status: RowStatus = secret && rule.class === "must-differ" && hasReuse(set) ? "secret-reused" : set.length < kv.length ? "missing" : distinct <= 1 ? "same" : "differs";
        const violation = judgeKey(key, rule, kv, rules.file);
        return {
            key,
            rule,
            secret,
            values: Object.fromEntries(kv.map((v) => [v.stack, v.compare === undefined ? undefined : v.display])),
            status,
            ...(violation ? { violation } : {}),
        };
    });
    return {
        stacks: stacks.map((s) => ({ stack: s.stack, environment: s.environment })),
        rules: rules.source,
        rows,
        violations: rows.flatMap((r) => (r.violation ? [r.violation] : [])),
    };
}

function hasReuse(set: readonly KeyValue[]): boolean {
    const secrets = set.filter((v) => v.display === SECRET_SHOWN).map((v) => v.compare);
    return new Set(secrets).size < secrets.length;
}

const classText = (c: KeyClass, envs: readonly string[] | undefined) => (envs ? `${c} (${envs.join(", ")})` : c);

/** The matrix as text: a table, then each violation with its fix. */
export function formatParity(report: ParityReport): string {
    const header = ["KEY", "CLASS", ...report.stacks.map((s) => s.stack), "STATUS"];
    const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
    const lines = report.rows.map((r) => [
        r.key,
        classText(r.rule.class, r.rule.environments),
        // `-` is unset; an empty value is shown as "" so the two never look alike.
        ...report.stacks.map((s) => {
            const v = r.values[s.stack];
            return v === undefined ? "-" : v === "" ? '""' : cut(v, 28);
        }),
        r.violation ? `${r.status}  VIOLATION` : r.status,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const row = (cells: string[]) =>
        cells
            .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
            .join("  ")
            .trimEnd();
    const out = [
        `parity of ${report.stacks.map((s) => `${s.stack}${s.environment && s.environment !== s.stack ? ` (${s.environment})` : ""}`).join(", ")}; rules: ${report.rules}`,
        "",
        row(header),
        ...lines.map(row),
        "",
    ];
    if (report.violations.length === 0) {
        out.push(`no violations: ${report.rows.length} keys, every one within its rule`);
    } else {
        out.push(`${report.violations.length} violation${report.violations.length === 1 ? "" : "s"}:`);
        for (const v of report.violations) out.push(`  - ${v.message}`);
    }
    return out.join("\n");
}

/** The matrix as data for `--json`: values of secrets are `<secret>`, and no fingerprint is included. */
export function parityJson(report: ParityReport): unknown {
    return {
        ok: report.violations.length === 0,
        rules: report.rules,
        stacks: report.stacks,
        rows: report.rows.map((r) => ({
            key: r.key,
            class: r.rule.class,
            ...(r.rule.environments ? { environments: r.rule.environments } : {}),
            ruleFrom: r.rule.from,
            secret: r.secret,
            values: Object.fromEntries(Object.entries(r.values).map(([k, v]) => [k, v ?? null])),
            status: r.status,
            ...(r.violation ? { violation: r.violation.message } : {}),
        })),
        violations: report.violations.map((v) => ({ key: v.key, kind: v.kind, stacks: v.stacks, message: v.message })),
    };
}
