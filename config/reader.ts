// What every group validator reads config through. Each read returns a typed value (or the
// fallback) and, instead of throwing, records a problem naming the key, the value seen, what is
// allowed and the command that fixes it, so validateConfig can report every problem at once.
import { formatDuration } from "../smoke/limits";

export const PROJECT = "env-progression";

export interface RawConfig {
    /** Values by key (without the `env-progression:` namespace), as the engine or the stack file holds them. */
    readonly values: Readonly<Record<string, unknown>>;
    /** Keys seen stored as secrets (`secure:` in the stack file). @default - none seen */
    readonly secretKeys?: ReadonlySet<string>;
    /**
     * Keys seen stored in plaintext. When absent but `secretKeys` is given, the whole stack file
     * was read: every other key with a value is plaintext. When both are absent nothing is known,
     * and the engine itself refuses a plaintext value for every key Pulumi.yaml declares
     * `secret: true`.
     */
    readonly plainKeys?: ReadonlySet<string>;
    /** Keys Pulumi.yaml declares with `secret: true`. @default - none */
    readonly declaredSecrets?: ReadonlySet<string>;
    /** Where relative paths resolve; when set, the files they name (migrationsDir) are read and checked. @default - files are not read */
    readonly projectDir?: string;
}

export class ConfigError extends Error {
    override name = "ConfigError";
    readonly stackName: string;
    readonly problems: readonly string[];
    constructor(stack: string, problems: readonly string[]) {
        super(
            `stack '${stack}' has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.stackName = stack;
        this.problems = problems;
    }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

/** Parses `500ms`, `5s`, `2m` into milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
    const m = DURATION.exec(text.trim());
    if (!m) return undefined;
    const n = Number(m[1]);
    return Math.round(n * (m[2] === "m" ? 60_000 : m[2] === "s" ? 1000 : 1));
}

/** A value as the user wrote it: config arrives as text, so "3" shows as 3, anything else as JSON. */
export function show(v: unknown): string {
    if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim())) return v.trim();
    return JSON.stringify(v) ?? String(v);
}

export class ConfigReader {
    readonly problems: string[] = [];
    private readonly read = new Set<string>();

    constructor(
        readonly raw: RawConfig,
        readonly stack: string,
    ) {}

    /** Every key a validator asked for, set or not. */
    get keysRead(): ReadonlySet<string> {
        return this.read;
    }

    /** True when the key was seen stored as a secret. */
    storedAsSecret(key: string): boolean {
        return this.raw.secretKeys?.has(key) ?? false;
    }

    /** True when the key was seen stored in plaintext; false when unknown. */
    storedInPlaintext(key: string): boolean {
        if (this.raw.plainKeys) return this.raw.plainKeys.has(key);
        return this.raw.secretKeys !== undefined && !this.raw.secretKeys.has(key) && this.raw.values[key] !== undefined;
    }

    /** The command that sets `key`: `pulumi config set [--secret] [--path] KEY VALUE -s STACK`. */
    fix(key: string, example: string, opts: { secret?: boolean; path?: boolean } = {}): string {
        const flags = `${opts.secret ? " --secret" : ""}${opts.path ? " --path" : ""}`;
        const k = opts.path ? `'${key}'` : key;
        return `pulumi config set${flags} ${k} ${example} -s ${this.stack}`;
    }

    /** Records a problem already phrased in full. */
    problem(text: string): void {
        this.problems.push(text);
    }

    /** The raw value; "" counts as unset (Pulumi.yaml declares `default: ""` for keys without one). */
    value(key: string): unknown {
        this.read.add(key);
        const v = this.raw.values[key];
        return v === "" ? undefined : v;
    }

    has(key: string): boolean {
        return this.value(key) !== undefined;
    }

    string(key: string): string | undefined;
    string(key: string, fallback: string): string;
    string(key: string, fallback?: string): string | undefined {
        const v = this.value(key);
        if (v === undefined) return fallback;
        if (typeof v !== "string") {
            this.problem(`${PROJECT}:${key}: ${show(v)} is not a string. Fix: ${this.fix(key, "<value>")}`);
            return fallback;
        }
        return v;
    }

    /** A key every stack must set: missing, it is reported with what is allowed and an example. */
    required(key: string, allowed: string, example: string, why = ""): string | undefined {
        if (!this.has(key)) {
            this.problem(`${PROJECT}:${key} is required and missing${why}. Allowed: ${allowed}. Fix: ${this.fix(key, example)}`);
            return undefined;
        }
        return this.string(key);
    }

    /** A decimal integer (text or number); `0x10`, `1e3` and `2.0` are not. */
    int(key: string, o: { fallback: number; min: number; max: number; why?: string }): number {
        const v = this.value(key);
        if (v === undefined) return o.fallback;
        const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
        if (!Number.isSafeInteger(n) || n < o.min || n > o.max) {
            this.problem(
                `${PROJECT}:${key}: ${show(v)} is not allowed. Allowed: an integer from ${o.min} to ${o.max}${o.why ?? ""}. ` +
                    `Fix: ${this.fix(key, String(Math.max(o.min, Math.min(o.max, o.fallback))))}`,
            );
            return o.fallback;
        }
        return n;
    }

    bool(key: string, fallback: boolean): boolean {
        const v = this.value(key);
        if (v === undefined) return fallback;
        if (typeof v === "boolean") return v;
        if (v === "true" || v === "false") return v === "true";
        this.problem(`${PROJECT}:${key}: ${show(v)} is not a boolean. Allowed: true or false. Fix: ${this.fix(key, String(!fallback))}`);
        return fallback;
    }

    /** A duration within [minMs, maxMs]; reported with the fallback as the fix. */
    duration(key: string, o: { fallback: string; minMs: number; maxMs: number }): number {
        const fallbackMs = parseDurationMs(o.fallback)!;
        const v = this.value(key);
        if (v === undefined) return fallbackMs;
        const ms = typeof v === "string" ? parseDurationMs(v) : undefined;
        if (ms === undefined || ms <= 0) {
            this.problem(
                `${PROJECT}:${key}: ${show(v)} is not a duration. Allowed: a positive number with ms, s or m (e.g. ${o.fallback}). Fix: ${this.fix(key, o.fallback)}`,
            );
            return fallbackMs;
        }
        if (ms < o.minMs || ms > o.maxMs) {
            this.problem(
                `${PROJECT}:${key}: ${show(v)} is not allowed. Allowed: a duration from ${formatDuration(o.minMs)} to ${formatDuration(o.maxMs)}. Fix: ${this.fix(key, o.fallback)}`,
            );
            return fallbackMs;
        }
        return ms;
    }

    /** A map (YAML mapping, or its JSON text as the engine passes it). */
    map(key: string): Record<string, unknown> {
        const v = this.structured(key);
        if (v === undefined) return {};
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            this.problem(
                `${PROJECT}:${key}: ${show(this.raw.values[key])} is not a map. Allowed: a YAML mapping of name: value. Fix: ${this.fix(`${key}.NAME`, "<value>", { path: true })}`,
            );
            return {};
        }
        return v as Record<string, unknown>;
    }

    /** A list (YAML sequence, or its JSON text as the engine passes it). */
    list(key: string): unknown[] {
        const v = this.structured(key);
        if (v === undefined) return [];
        if (!Array.isArray(v)) {
            this.problem(`${PROJECT}:${key}: ${show(this.raw.values[key])} is not a list. Allowed: a YAML list. Fix: ${this.fix(`${key}[0]`, "<value>", { path: true })}`);
            return [];
        }
        return v;
    }

    private structured(key: string): unknown {
        const v = this.value(key);
        if (typeof v !== "string") return v;
        try {
            return JSON.parse(v) as unknown;
        } catch {
            return v;
        }
    }
}

