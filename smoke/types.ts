// Plain data types of the smoke engine. Nothing here knows about Pulumi: the CLI, the dynamic
// provider and the tests all speak these shapes.
import type { LookupFunction } from "node:net";
import type { Clock } from "./clock";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const JSON_TYPES = ["string", "number", "boolean", "object", "array", "null"] as const;
export type JsonType = (typeof JSON_TYPES)[number];

/**
 * One expectation on a field of the JSON response. With none of `equals`, `nonEmpty`, `type`
 * set, the field only has to be present.
 */
export interface JsonFieldExpectation {
    /** Dotted path into the response, e.g. `version`, `db.connected`, `items.0.id`. */
    readonly path: string;
    /** The field must deep-equal this value. */
    readonly equals?: JsonValue;
    /** The field must be present and not `null`, `""`, `[]` or `{}`. */
    readonly nonEmpty?: boolean;
    /** The field must have this JSON type. */
    readonly type?: JsonType;
}

export interface CheckExpectation {
    /**
     * Accepted response statuses.
     * @default - any 2xx
     */
    readonly status?: number | readonly number[];
    /** Fields of the JSON body; any entry here also requires a JSON content type. */
    readonly json?: readonly JsonFieldExpectation[];
    /** A substring the (capped) body must contain. */
    readonly bodyContains?: string;
}

/** A declarative smoke check: one request and what its answer must look like. */
export interface Check {
    /** Unique name, used in every report line. */
    readonly name: string;
    /** @default "GET" */
    readonly method?: HttpMethod;
    /** Path (and optional query) appended to the base URL's path; starts with `/`. */
    readonly path: string;
    /**
     * Extra request headers. Values of credential-like names (authorization, cookie, *token*,
     * *key*, *secret*, *password*) are redacted in reports.
     */
    readonly headers?: Readonly<Record<string, string>>;
    /** JSON request body, sent with `content-type: application/json`. Not allowed on GET/HEAD. */
    readonly body?: JsonValue;
    /** @default - status 2xx, body not inspected beyond the size cap */
    readonly expect?: CheckExpectation;
}

declare const VALID: unique symbol;

/**
 * Checks judged and normalized by validateChecks or parseChecks (smoke/checks.ts), the only shape
 * the engine runs: the edge that reads checks (the stack config, the CLI, a SmokeTest given checks
 * in code) judges them once, and nothing after it judges them again.
 */
export type ValidChecks = readonly Check[] & { readonly [VALID]: true };

export interface SmokeOptions {
    /** Per-request budget (connect, headers, body and same-host redirects). @default 5000 */
    readonly timeoutMs?: number;
    /** Overall deadline for the whole run. @default 120000 (SMOKE_DEFAULTS in smoke/limits.ts) */
    readonly deadlineMs?: number;
    /**
     * Pause after a failed attempt. After a transport error or a 5xx it doubles with each further
     * one, up to `maxIntervalMs`; after an assertion failure it stays the same. @default 1000
     */
    readonly intervalMs?: number;
    /** @default - the larger of 5000 and `intervalMs` */
    readonly maxIntervalMs?: number;
    /** Pause after a passing attempt, before the next of the consecutive passes. @default - the smaller of 100 and `intervalMs` */
    readonly passIntervalMs?: number;
    /** Consecutive passes each check needs; any failure resets the count. @default 3 */
    readonly consecutivePasses?: number;
    /**
     * An assertion failure (a status below 500 that is not accepted, a body that does not match,
     * a redirect not followed) repeated the same way this many times in a row is final: the check
     * fails and the run stops without waiting for the deadline. Transport errors and 5xx answers
     * never count. 0: every failure waits for the deadline. @default 3
     */
    readonly failureLimit?: number;
    /** Response bodies larger than this fail with class `body`; reading stops there. @default 262144 */
    readonly maxBodyBytes?: number;
    /** Same-host redirects followed per attempt; other hosts are never followed. @default 3 */
    readonly maxRedirects?: number;
    /** Headers sent with every check. All values are treated as secrets and redacted. */
    readonly headers?: Readonly<Record<string, string>>;
    /** PEM CA certificate(s) trusted in addition to the system roots. */
    readonly caPem?: string;
    /** Where the deadline, the pauses and the reported times are read from. @default - the system's monotonic clock */
    readonly clock?: Clock;
    /** DNS lookup used for host names (IP literals skip it); tests inject failures here. */
    readonly lookup?: LookupFunction;
}

/** The settings a run actually used, every default applied. */
export interface ResolvedSmokeOptions {
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly maxIntervalMs: number;
    readonly passIntervalMs: number;
    readonly consecutivePasses: number;
    readonly failureLimit: number;
    readonly maxBodyBytes: number;
    readonly maxRedirects: number;
}

/**
 * Why an attempt failed. Transport classes: dns, refused, reset (the connection closed early,
 * a body cut off included), timeout, tls, network (any other socket error). Assertion classes:
 * status, body, redirect. `deadline`: the check never failed but did not reach its consecutive
 * passes before the deadline. `stopped`: the run ended before this check settled, because
 * another check failed for good.
 */
export type ErrorClass = "dns" | "refused" | "reset" | "timeout" | "tls" | "network" | "status" | "body" | "redirect" | "deadline" | "stopped";

export interface CheckReport {
    readonly name: string;
    readonly method: HttpMethod;
    readonly url: string;
    readonly passed: boolean;
    /** Class of the most recent failure (absent when the check passed). */
    readonly errorClass?: ErrorClass;
    /** True when the failure limit made this failure final, before the deadline. */
    readonly final?: boolean;
    /** What a passing answer looks like, in words. */
    readonly expected: string;
    /** What the most recent failure saw (absent when the check passed). */
    readonly seen?: string;
    /** HTTP status of the last answer, if any arrived. */
    readonly status?: number;
    readonly attempts: number;
    readonly failures: number;
    readonly failuresByClass: Partial<Record<ErrorClass, number>>;
    /** Consecutive passes at the end of the run. */
    readonly consecutivePasses: number;
    /** Round trip of the last attempt, body included. */
    readonly latencyMs?: number;
    /** From the start of the run until this check settled. */
    readonly elapsedMs: number;
}

export interface SmokeReport {
    readonly ok: boolean;
    readonly baseUrl: string;
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly elapsedMs: number;
    readonly settings: ResolvedSmokeOptions & { readonly customCa: boolean };
    /** The check whose final failure ended the run early, if one did. */
    readonly stoppedBy?: string;
    readonly checks: readonly CheckReport[];
}
