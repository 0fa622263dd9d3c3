// The default checks, and validation of everything a user can hand the engine: check lists
// (from JSON or TypeScript), timing options and the base URL. Every problem is collected and
// reported in one SmokeConfigError, each saying what is wrong, the value, what is allowed and
// how to fix it.
import { X509Certificate } from "node:crypto";
import {
    HTTP_METHODS,
    JSON_TYPES,
    type Check,
    type CheckExpectation,
    type HttpMethod,
    type JsonFieldExpectation,
    type JsonType,
    type JsonValue,
    type ResolvedSmokeOptions,
    type SmokeOptions,
    type ValidChecks,
} from "./types";
import { minimumDeadlineMs, PASS_INTERVAL_MS, passIntervalMs as pauseBetweenPasses, SMOKE_DEFAULTS, SMOKE_LIMITS } from "./limits";

/** The seed's four critical paths. */
export const defaultChecks: readonly Check[] = Object.freeze([
    { name: "healthz", method: "GET", path: "/healthz" },
    {
        name: "version",
        method: "GET",
        path: "/api/version",
        expect: { json: [{ path: "version", nonEmpty: true }] },
    },
    {
        name: "db-status",
        method: "GET",
        path: "/api/db-status",
        expect: { json: [{ path: "connected", equals: true }] },
    },
    {
        name: "test-action",
        method: "POST",
        path: "/api/test-action",
        body: { test: true },
        expect: { json: [{ path: "success", equals: true }] },
    },
] satisfies Check[]);

/** The engine's defaults: the timing ones are SMOKE_DEFAULTS (smoke/limits.ts), shared with the stack config. */
export const DEFAULTS = {
    ...SMOKE_DEFAULTS,
    passIntervalMs: PASS_INTERVAL_MS,
    maxBodyBytes: 256 * 1024,
    maxRedirects: 3,
} as const;

/**
 * At most this many checks per run. Every check polls concurrently on its own connections until
 * the deadline, so a list in the thousands is a load test, not a smoke test, and would hold the
 * run past its deadline.
 */
export const MAX_CHECKS = 100;

/** A checks file larger than this is refused before it is read (100 checks fit in far less). */
export const MAX_CHECKS_FILE_BYTES = 16 * 1024 * 1024;

/** Invalid checks or options. `problems` holds one line per problem; the message joins them. */
export class SmokeConfigError extends Error {
    override name = "SmokeConfigError";
    constructor(
        readonly problems: readonly string[],
        context = "invalid smoke configuration",
    ) {
        super(`${context} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}`);
    }
}

class Problems {
    readonly list: string[] = [];
    add(where: string, what: string, value: unknown, allowed: string, fix: string): void {
        const seen = value === undefined ? "" : `; got ${show(value)}`;
        this.list.push(`${where}: ${what}${seen}; allowed: ${allowed}; fix: ${fix}`);
    }
    throwIfAny(context?: string): void {
        if (this.list.length > 0) throw new SmokeConfigError(this.list, context);
    }
}

function show(value: unknown): string {
    let s: string;
    try {
        s = JSON.stringify(value) ?? String(value);
    } catch {
        s = String(value);
    }
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function unknownKeys(p: Problems, where: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
        if (!allowed.includes(key)) {
            p.add(`${where}.${key}`, "unknown key", undefined, allowed.join(", "), `remove '${key}' or fix its spelling`);
        }
    }
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// RFC 9110 token characters.
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers the engine owns: letting a check set them would break framing or the same-host rule.
const RESERVED_HEADERS = ["host", "content-length", "transfer-encoding", "connection", "upgrade", "keep-alive"];

function validateHeaders(p: Problems, where: string, value: unknown): Record<string, string> | undefined {
    if (value === undefined) return undefined;
    if (!isObject(value)) {
        p.add(where, "headers must be an object of name to string value", value, `{"Name": "value"}`, "write headers as a JSON object");
        return undefined;
    }
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
        if (!HEADER_NAME_RE.test(name)) {
            p.add(`${where}.${name}`, "not a valid header name", name, "letters, digits and !#$%&'*+.^_`|~-", "rename the header");
        } else if (RESERVED_HEADERS.includes(name.toLowerCase())) {
            p.add(`${where}.${name}`, "header is set by the engine", name, `any header except ${RESERVED_HEADERS.join(", ")}`, "remove it");
        }
        if (typeof v !== "string") {
            // The value may be a secret: name its type, never echo it.
            p.add(`${where}.${name}`, `header value must be a string, not ${v === null ? "null" : typeof v}`, undefined, "a string", "quote the value");
        } else if (/[\r\n\0]/.test(v)) {
            p.add(`${where}.${name}`, "header value contains CR, LF or NUL", undefined, "a single-line string", "remove the line breaks");
        } else {
            out[name] = v;
        }
    }
    return out;
}

function isStatus(v: unknown): v is number {
    return typeof v === "number" && Number.isInteger(v) && v >= 100 && v <= 599;
}

// One function: each field of a check's `expect` is judged in turn into the same list of problems.
function validateExpect(p: Problems, where: string, value: unknown): CheckExpectation | undefined {
    if (value === undefined) return undefined;
    if (!isObject(value)) {
        p.add(where, "expect must be an object", value, `{"status": 200, "json": [...], "bodyContains": "..."}`, "write expect as a JSON object");
        return undefined;
    }
    unknownKeys(p, where, value, ["status", "json", "bodyContains"]);
    const out: { status?: number[]; json?: JsonFieldExpectation[]; bodyContains?: string } = {};

    const status = value["status"];
    if (status !== undefined) {
        const list = Array.isArray(status) ? status : [status];
        if (list.length === 0 || !list.every(isStatus)) {
            p.add(
                `${where}.status`,
                "not an HTTP status or list of statuses",
                status,
                "integers 100-599, e.g. 200 or [200, 204]",
                "list the statuses a healthy app answers",
            );
        } else {
            out.status = [...list];
        }
    }

    const json = value["json"];
    if (json !== undefined) {
        if (!Array.isArray(json) || json.length === 0) {
            p.add(
                `${where}.json`,
                "must be a non-empty array of field expectations",
                json,
                `[{"path": "version", "nonEmpty": true}]`,
                "list at least one field, or remove 'json'",
            );
        } else {
            out.json = [];
            json.forEach((field: unknown, i) => {
                const fw = `${where}.json[${i}]`;
                if (!isObject(field)) {
                    p.add(fw, "must be an object", field, `{"path": "a.b", "equals": true}`, "write the expectation as an object");
                    return;
                }
                unknownKeys(p, fw, field, ["path", "equals", "nonEmpty", "type"]);
                const path = field["path"];
                if (typeof path !== "string" || path.length === 0 || path.split(".").some((s) => s.length === 0)) {
                    p.add(`${fw}.path`, "must be a dotted path", path, `e.g. "version", "db.connected", "items.0.id"`, "name the JSON field to inspect");
                    return;
                }
                const e: { path: string; equals?: JsonValue; nonEmpty?: boolean; type?: JsonType } = { path };
                if ("equals" in field) e.equals = field["equals"] as JsonValue;
                const nonEmpty = field["nonEmpty"];
                if (nonEmpty !== undefined) {
                    if (typeof nonEmpty !== "boolean") {
                        p.add(`${fw}.nonEmpty`, "must be a boolean", nonEmpty, "true or false", "write true");
                    } else {
                        e.nonEmpty = nonEmpty;
                    }
                }
                const type = field["type"];
                if (type !== undefined) {
                    if (!(JSON_TYPES as readonly unknown[]).includes(type)) {
                        p.add(`${fw}.type`, "not a JSON type", type, JSON_TYPES.join(", "), "use one of the allowed types");
                    } else {
                        e.type = type as JsonType;
                    }
                }
                out.json!.push(e);
            });
        }
    }

    const contains = value["bodyContains"];
    if (contains !== undefined) {
        if (typeof contains !== "string" || contains.length === 0) {
            p.add(`${where}.bodyContains`, "must be a non-empty string", contains, "a string", "give the text the body must contain");
        } else {
            out.bodyContains = contains;
        }
    }
    return out;
}

function validateCheck(p: Problems, where: string, value: unknown): Check | undefined {
    if (!isObject(value)) {
        p.add(where, "a check must be an object", value, `{"name": "...", "path": "/..."}`, "write the check as a JSON object");
        return undefined;
    }
    const errorsBefore = p.list.length;
    unknownKeys(p, where, value, ["name", "method", "path", "headers", "body", "expect"]);

    const name = value["name"];
    if (typeof name !== "string" || !NAME_RE.test(name)) {
        p.add(
            `${where}.name`,
            "missing or invalid name",
            name,
            "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
            "give every check a short unique name",
        );
    }

    let method: HttpMethod = "GET";
    const rawMethod = value["method"];
    if (rawMethod !== undefined) {
        const upper = typeof rawMethod === "string" ? rawMethod.toUpperCase() : undefined;
        if (upper === undefined || !(HTTP_METHODS as readonly string[]).includes(upper)) {
            p.add(`${where}.method`, "not a supported HTTP method", rawMethod, HTTP_METHODS.join(", "), "use one of the allowed methods");
        } else {
            method = upper as HttpMethod;
        }
    }

    const path = value["path"];
    if (typeof path !== "string" || !path.startsWith("/") || /[\s#]/.test(path) || path.length > 2048) {
        p.add(
            `${where}.path`,
            "missing or invalid path",
            path,
            "a path starting with '/', no spaces or '#', e.g. \"/api/version\"",
            "give the path relative to the base URL",
        );
    }

    const headers = validateHeaders(p, `${where}.headers`, value["headers"]);

    const hasBody = "body" in value && value["body"] !== undefined;
    if (hasBody && (method === "GET" || method === "HEAD")) {
        p.add(
            `${where}.body`,
            `a ${method} request cannot carry a body`,
            undefined,
            "a body with POST, PUT, PATCH, DELETE or OPTIONS",
            `set "method": "POST" or remove "body"`,
        );
    }

    const expect = validateExpect(p, `${where}.expect`, value["expect"]);
    if (p.list.length > errorsBefore) return undefined;

    return {
        name: name as string,
        method,
        path: path as string,
        ...(headers ? { headers } : {}),
        ...(hasBody ? { body: value["body"] as JsonValue } : {}),
        ...(expect ? { expect } : {}),
    };
}

function validateList(p: Problems, where: string, list: readonly unknown[]): Check[] {
    if (list.length > MAX_CHECKS) {
        p.add(
            where,
            `${list.length} checks are too many`,
            undefined,
            `at most ${MAX_CHECKS} (each runs concurrently until the deadline)`,
            "keep the critical paths; test the rest with a load or integration test",
        );
        return [];
    }
    const out: Check[] = [];
    const seen = new Set<string>();
    list.forEach((raw, i) => {
        const check = validateCheck(p, `${where}[${i}]`, raw);
        if (!check) return;
        if (seen.has(check.name)) {
            p.add(`${where}[${i}].name`, "duplicate check name", check.name, "names unique within the list", "rename one of the checks");
            return;
        }
        seen.add(check.name);
        out.push(check);
    });
    if (list.length === 0) {
        p.add(where, "no checks", list, "at least one check", "add a check, or omit the list to use the defaults");
    }
    return out;
}

/**
 * Validates and normalises checks written in TypeScript (e.g. SmokeTest args). Throws
 * SmokeConfigError listing every problem.
 */
export function validateChecks(checks: readonly Check[], where = "checks"): ValidChecks {
    const p = new Problems();
    const out = validateList(p, where, checks);
    p.throwIfAny();
    return out as readonly Check[] as ValidChecks;
}

/**
 * Checks as a SmokeTest stored them in its inputs: the JSON text of checks the edge judged
 * (smokeChecksJson in components/smokeTest.ts), read back without judging them again.
 */
export function checksFromInputs(json: string): ValidChecks {
    return JSON.parse(json) as ValidChecks;
}

/**
 * Parses checks from JSON text or an already-parsed value. Two shapes:
 *   - an array of checks: replaces the default set;
 *   - `{"includeDefaults": true, "checks": [...]}`: the defaults plus these, a check named like
 *     a default replacing it.
 * `source` names the origin (a file name, a config key) in error messages.
 */
export function parseChecks(input: unknown, source = "checks"): ValidChecks {
    let value = input;
    if (typeof input === "string") {
        try {
            value = JSON.parse(input);
        } catch (err) {
            throw new SmokeConfigError([
                `${source}: not valid JSON (${(err as Error).message}); allowed: a JSON array of checks or {"includeDefaults": true, "checks": [...]}; fix: correct the JSON syntax`,
            ]);
        }
    }
    const p = new Problems();
    let result: Check[] = [];
    if (Array.isArray(value)) {
        result = validateList(p, source, value);
    } else if (isObject(value)) {
        unknownKeys(p, source, value, ["includeDefaults", "checks"]);
        const include = value["includeDefaults"] ?? false;
        if (typeof include !== "boolean") {
            p.add(`${source}.includeDefaults`, "must be a boolean", include, "true or false", "write true to keep the default checks");
        }
        const list = value["checks"];
        if (!Array.isArray(list)) {
            p.add(`${source}.checks`, "must be an array of checks", list, `[{"name": "...", "path": "/..."}]`, "put the checks in a 'checks' array");
        } else {
            const extra = validateList(p, `${source}.checks`, list);
            if (include === true) {
                const names = new Set(extra.map((c) => c.name));
                result = [...defaultChecks.filter((c) => !names.has(c.name)), ...extra];
                if (result.length > MAX_CHECKS) {
                    p.add(
                        `${source}.checks`,
                        `${result.length} checks with the defaults are too many`,
                        undefined,
                        `at most ${MAX_CHECKS}`,
                        "keep the critical paths",
                    );
                }
            } else {
                result = extra;
            }
        }
    } else {
        p.add(
            source,
            "must be an array of checks or an object with 'checks'",
            value,
            `[...] or {"includeDefaults": true, "checks": [...]}`,
            "wrap the checks in a JSON array",
        );
    }
    p.throwIfAny(`invalid checks in ${source}`);
    return result as readonly Check[] as ValidChecks;
}

/** A duration in the units a person writes: 1ms, 5s, 60m. */
function showDuration(ms: number): string {
    if (!Number.isFinite(ms)) return String(ms);
    if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
    if (ms !== 0 && ms % 1000 === 0) return `${ms / 1000}s`;
    return `${ms}ms`;
}

/**
 * How a caller names options in messages. Without a label, options are named as SmokeOptions
 * fields in ms (`deadlineMs`); with one, by the label (a CLI flag, a config key) and durations in
 * that person's units (`--deadline: ... got 0ms`).
 */
export type SmokeOptionLabels = Partial<
    Record<"timeoutMs" | "deadlineMs" | "intervalMs" | "maxIntervalMs" | "passIntervalMs" | "consecutivePasses" | "failureLimit", string>
>;

function checkInt(p: Problems, name: string, value: number | undefined, min: number, max: number, unit: string, label?: string): void {
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        if (label !== undefined && unit === " ms") {
            const range = `${showDuration(min)}..${showDuration(max)}`;
            p.add(label, `must be a duration from ${showDuration(min)} to ${showDuration(max)}`, showDuration(value), range, `set ${label} within range`);
        } else {
            p.add(label ?? name, `must be an integer from ${min} to ${max}${unit}`, value, `${min}..${max}`, `set ${label ?? name} within range`);
        }
    }
}

function validateCa(p: Problems, pem: string | undefined): void {
    if (pem === undefined) return;
    const blocks = typeof pem === "string" ? pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) : null;
    if (!blocks) {
        p.add(
            "caPem",
            "no PEM certificate found",
            typeof pem === "string" ? pem.slice(0, 40) : pem,
            "one or more '-----BEGIN CERTIFICATE-----' blocks",
            "pass the CA certificate in PEM form",
        );
        return;
    }
    for (const block of blocks) {
        try {
            new X509Certificate(block);
        } catch (err) {
            p.add("caPem", `a certificate does not parse (${(err as Error).message})`, undefined, "PEM X.509 certificates", "export the CA certificate again");
        }
    }
}

/**
 * Applies defaults and validates numeric options, headers and CA; throws SmokeConfigError.
 * `labels` names the options as the caller's user knows them (see SmokeOptionLabels).
 */
export function resolveSmokeOptions(options: SmokeOptions = {}, labels: SmokeOptionLabels = {}): ResolvedSmokeOptions {
    const p = new Problems();
    const name = (key: keyof SmokeOptionLabels) => labels[key] ?? key;
    const L = SMOKE_LIMITS;
    checkInt(p, "timeoutMs", options.timeoutMs, L.timeoutMs.min, L.timeoutMs.max, " ms", labels.timeoutMs);
    checkInt(p, "deadlineMs", options.deadlineMs, L.deadlineMs.min, L.deadlineMs.max, " ms", labels.deadlineMs);
    checkInt(p, "intervalMs", options.intervalMs, L.intervalMs.min, L.intervalMs.max, " ms", labels.intervalMs);
    checkInt(p, "maxIntervalMs", options.maxIntervalMs, L.intervalMs.min, L.intervalMs.max, " ms", labels.maxIntervalMs);
    checkInt(p, "passIntervalMs", options.passIntervalMs, L.intervalMs.min, L.intervalMs.max, " ms", labels.passIntervalMs);
    checkInt(p, "consecutivePasses", options.consecutivePasses, L.consecutivePasses.min, L.consecutivePasses.max, "", labels.consecutivePasses);
    checkInt(p, "failureLimit", options.failureLimit, L.failureLimit.min, L.failureLimit.max, "", labels.failureLimit);
    checkInt(p, "maxBodyBytes", options.maxBodyBytes, 1, 64 * 1024 * 1024, " bytes");
    checkInt(p, "maxRedirects", options.maxRedirects, 0, 10, "");
    validateHeaders(p, "headers", options.headers);
    validateCa(p, options.caPem);
    const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs;
    const maxIntervalMs = options.maxIntervalMs ?? Math.max(5_000, intervalMs);
    const passIntervalMs = options.passIntervalMs ?? pauseBetweenPasses(intervalMs);
    if (maxIntervalMs < intervalMs) {
        p.add(
            name("maxIntervalMs"),
            `must not be below ${name("intervalMs")} (${intervalMs})`,
            maxIntervalMs,
            `>= ${intervalMs}`,
            `raise ${name("maxIntervalMs")} or lower ${name("intervalMs")}`,
        );
    }
    const deadlineMs = options.deadlineMs ?? DEFAULTS.deadlineMs;
    const passes = options.consecutivePasses ?? DEFAULTS.consecutivePasses;
    // Even a healthy app needs (passes - 1) pauses between passes; the stack config's edge judges
    // by the same rule (smoke/limits.ts).
    const minimum = minimumDeadlineMs({ consecutivePasses: passes, passIntervalMs });
    if (p.list.length === 0 && deadlineMs < minimum) {
        const labelled = labels.deadlineMs !== undefined;
        const ms = (v: number) => (labelled ? showDuration(v) : `${v} ms`);
        p.add(
            name("deadlineMs"),
            `leaves no time for ${passes} consecutive passes ${ms(passIntervalMs)} apart`,
            labelled ? showDuration(deadlineMs) : deadlineMs,
            `more than ${ms(minimum - 1)}`,
            `raise ${labelled ? name("deadlineMs") : "the deadline"}, or lower ${name("consecutivePasses")}`,
        );
    }
    p.throwIfAny("invalid smoke options");
    return {
        timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
        deadlineMs,
        intervalMs,
        maxIntervalMs,
        passIntervalMs,
        consecutivePasses: passes,
        failureLimit: options.failureLimit ?? DEFAULTS.failureLimit,
        maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
        maxRedirects: options.maxRedirects ?? DEFAULTS.maxRedirects,
    };
}

/**
 * Why `text` cannot be a base URL, or undefined when it can: the one set of rules for the engine
 * (parseBaseUrl, so the CLI and the SmokeTest provider) and the stack config (smokeBaseUrl,
 * smokePreviewUrl). `what` names the value; `allowed` says what would do.
 */
export function baseUrlProblem(text: string): { what: string; allowed: string } | undefined {
    let url: URL;
    try {
        url = new URL(text);
    } catch {
        return { what: `${show(text)} is not a URL`, allowed: "an http(s) URL, e.g. http://127.0.0.1:8080" };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return { what: `${show(text)} is not an http(s) URL`, allowed: "an http(s) URL" };
    // Never echo a URL that carries credentials.
    if (url.username || url.password) {
        return {
            what: "carries credentials (user:password@), which would end up in reports and state",
            allowed: 'the URL without them, and the credential as a secret check header, e.g. "headers": {"Authorization": {"secret": "API_TOKEN"}}',
        };
    }
    if (url.search || url.hash) return { what: `${show(text)} has a query or fragment`, allowed: "scheme, host, port and path prefix only; a query belongs in a check's path" };
    return undefined;
}

/** The base URL, judged by baseUrlProblem; throws SmokeConfigError. */
export function parseBaseUrl(baseUrl: string): URL {
    const problem = baseUrlProblem(baseUrl);
    if (problem) throw new SmokeConfigError([`baseUrl: ${problem.what}; allowed: ${problem.allowed}; fix: give the app's address as allowed`]);
    return new URL(baseUrl);
}

/** Joins the base URL's path prefix and a check's path on the base's origin. */
export function checkUrl(base: URL, path: string): URL {
    const prefix = base.pathname.replace(/\/+$/, "");
    // Concatenating onto the origin (rather than resolving `path` against the base) keeps a
    // path like "//other.host/x" on the base host.
    return new URL(base.origin + prefix + path);
}

/** The default checks as validated data: constant, judged once here, at load. */
export const DEFAULT_CHECKS: ValidChecks = validateChecks(defaultChecks);
