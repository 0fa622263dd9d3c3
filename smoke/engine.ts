// The smoke engine: polls every check until it has N consecutive passes, fails for good, or the
// deadline passes.
//
// How failures are counted:
//   - Every attempt is a pass or a failure. Any failure resets the check's consecutive-pass count
//     to zero and is retried until the deadline, with one exception (the failure limit, below).
//   - Transport errors (dns, refused, reset, timeout, tls, network) and 5xx answers are retried
//     with a backoff that doubles up to `maxIntervalMs`: the app is not there yet, or overloaded,
//     or the Service still routes to a pod that is going away.
//   - Assertion failures (a status other than 5xx, a body that does not match, a redirect that is
//     not followed) mean the app answers and answers wrong. They are retried after `intervalMs`
//     (no backoff), and when one fails the same way `failureLimit` times in a row the verdict is
//     final: the check fails, and the run stops at once instead of waiting out the deadline. The
//     checks start after the rollout has finished, so an answer that stays wrong that many times
//     is what the new pods say; 0 turns this off (every failure waits for the deadline).
//   - A check passes once it has `consecutivePasses` passes in a row, `passIntervalMs` apart; a
//     run passes when every check does. A flapping app (pass, fail, pass) never collects them.
//   - At the deadline, a check short of its passes fails, reporting its most recent failure
//     (class, expected, seen) and how many failures of each class it met.
//
// Transport: node:http and node:https, one fresh connection per attempt (no keep-alive), so each
// attempt may land on another pod behind a Service and a broken pod cannot hide behind a
// kept-alive connection to a healthy one. Built-in modules also keep start-up short: the CLI and
// the SmokeTest provider load this file on every run.
import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction } from "node:net";
import { performance } from "node:perf_hooks";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { checkUrl, parseBaseUrl, resolveSmokeOptions, validateChecks } from "./checks";
import { collectSecrets, redactDeep } from "./redact";
import type { Check, CheckReport, ErrorClass, HttpMethod, JsonFieldExpectation, ResolvedSmokeOptions, SmokeOptions, SmokeReport } from "./types";

type Outcome =
    | { readonly ok: true; readonly status: number; readonly latencyMs: number }
    | {
          readonly ok: false;
          readonly errorClass: ErrorClass;
          readonly seen: string;
          readonly status?: number;
          readonly latencyMs: number;
      };

interface Context {
    readonly base: URL;
    readonly settings: ResolvedSmokeOptions;
    readonly secureContext: SecureContext | undefined;
    readonly lookup: LookupFunction | undefined;
    readonly sharedHeaders: Readonly<Record<string, string>>;
    readonly deadlineAt: number;
    readonly startedAt: number;
    /** Aborted when a check fails for good: the others stop, the verdict is known. */
    readonly stop: AbortController;
    /** The check whose final failure stopped the run. */
    stoppedBy?: string;
}

const USER_AGENT = "progression-smoke/1";

/**
 * Runs `checks` against `baseUrl`. Never throws for a failing app: the verdict is in the
 * report. Throws SmokeConfigError for invalid checks or options.
 */
export async function runSmoke(baseUrl: string, checks: readonly Check[], options: SmokeOptions = {}): Promise<SmokeReport> {
    const base = parseBaseUrl(baseUrl);
    const normalized = validateChecks(checks);
    const settings = resolveSmokeOptions(options);
    const secrets = collectSecrets(options.headers, normalized);

    // A custom CA extends the system roots rather than replacing them, so a cluster CA and a
    // public certificate both verify. One context per run: a `ca` list would be parsed again
    // (150-odd roots) on every connection. Verification is never turned off.
    const secureContext = options.caPem ? createSecureContext({ ca: [...rootCertificates, options.caPem] }) : undefined;

    const startedAt = performance.now();
    const startedIso = new Date().toISOString();
    const ctx: Context = {
        base,
        settings,
        secureContext,
        lookup: options.lookup,
        sharedHeaders: options.headers ?? {},
        deadlineAt: startedAt + settings.deadlineMs,
        startedAt,
        stop: new AbortController(),
    };
    const results = await Promise.all(normalized.map((check) => runCheck(ctx, check)));
    const report: SmokeReport = {
        ok: results.every((r) => r.passed),
        baseUrl: base.href,
        startedAt: startedIso,
        finishedAt: new Date().toISOString(),
        elapsedMs: Math.round(performance.now() - startedAt),
        settings: { ...settings, customCa: options.caPem !== undefined },
        ...(ctx.stoppedBy !== undefined ? { stoppedBy: ctx.stoppedBy } : {}),
        checks: results,
    };
    return redactDeep(report, secrets);
}

/** Assertion failures can be final; transport errors and 5xx answers never are. */
function finalSignature(outcome: Extract<Outcome, { ok: false }>): string | undefined {
    switch (outcome.errorClass) {
        case "status":
            return outcome.status !== undefined && outcome.status < 500 ? `status ${outcome.status}` : undefined;
        case "body":
        case "redirect":
            return `${outcome.errorClass} ${outcome.seen}`;
        default:
            return undefined;
    }
}

async function runCheck(ctx: Context, check: Check): Promise<CheckReport> {
    const { settings } = ctx;
    const url = checkUrl(ctx.base, check.path);
    const method: HttpMethod = check.method ?? "GET";
    let attempts = 0;
    let failures = 0;
    let streak = 0;
    let failureRun = 0;
    let sameRun = 0;
    let lastSignature: string | undefined;
    let final = false;
    let lastFailure: Extract<Outcome, { ok: false }> | undefined;
    let lastStatus: number | undefined;
    let lastLatency: number | undefined;
    const byClass: Partial<Record<ErrorClass, number>> = {};

    for (;;) {
        if (ctx.stop.signal.aborted) break;
        const remaining = ctx.deadlineAt - performance.now();
        if (remaining <= 0) break;
        const budget = Math.min(settings.timeoutMs, Math.ceil(remaining));
        const outcome = await attempt(ctx, check, method, url, budget);
        attempts += 1;
        // Cut off in flight because another check failed for good: no verdict on the app.
        if (!outcome.ok && outcome.errorClass === "stopped") break;
        lastLatency = outcome.latencyMs;
        if (outcome.status !== undefined) lastStatus = outcome.status;

        let delay: number;
        if (outcome.ok) {
            streak += 1;
            failureRun = 0;
            sameRun = 0;
            lastSignature = undefined;
            if (streak >= settings.consecutivePasses) break;
            delay = settings.passIntervalMs;
        } else {
            failures += 1;
            byClass[outcome.errorClass] = (byClass[outcome.errorClass] ?? 0) + 1;
            streak = 0;
            // An attempt cut short by the deadline says little about the app; it must not hide
            // the more telling failure before it.
            const cutByDeadline = outcome.errorClass === "timeout" && budget < settings.timeoutMs;
            if (!(cutByDeadline && lastFailure)) lastFailure = outcome;
            const signature = finalSignature(outcome);
            if (signature === undefined) {
                sameRun = 0;
                lastSignature = undefined;
                failureRun += 1;
                delay = Math.min(settings.intervalMs * 2 ** (failureRun - 1), settings.maxIntervalMs);
            } else {
                sameRun = signature === lastSignature ? sameRun + 1 : 1;
                lastSignature = signature;
                failureRun = 0;
                if (settings.failureLimit > 0 && sameRun >= settings.failureLimit) {
                    final = true;
                    if (!ctx.stop.signal.aborted) {
                        ctx.stoppedBy = check.name;
                        ctx.stop.abort();
                    }
                    break;
                }
                delay = settings.intervalMs;
            }
        }
        // No attempt can start before the deadline: stop now rather than sleep into it.
        if (ctx.deadlineAt - performance.now() <= delay) break;
        await sleep(delay, ctx.stop.signal);
    }

    const passed = streak >= settings.consecutivePasses;
    const elapsedMs = Math.round(performance.now() - ctx.startedAt);
    const common = {
        name: check.name,
        method,
        url: url.href,
        passed,
        expected: describeExpectation(check),
        ...(lastStatus !== undefined ? { status: lastStatus } : {}),
        attempts,
        failures,
        failuresByClass: byClass,
        consecutivePasses: streak,
        ...(lastLatency !== undefined ? { latencyMs: Math.round(lastLatency) } : {}),
        elapsedMs,
    };
    if (passed) return common;

    const need = `${settings.consecutivePasses} consecutive passes required`;
    if (final && lastFailure) {
        return { ...common, errorClass: lastFailure.errorClass, final: true, seen: lastFailure.seen };
    }
    if (ctx.stop.signal.aborted && ctx.stoppedBy !== check.name) {
        const so = lastFailure ? `; last failure: ${lastFailure.seen}` : streak > 0 ? `; ${streak} of ${settings.consecutivePasses} passes so far` : "";
        return { ...common, errorClass: "stopped", seen: `not settled when ${ctx.stoppedBy ?? "another check"} failed for good${so}` };
    }
    if (!lastFailure) {
        const seen =
            attempts === 0
                ? `no attempt fitted in the ${settings.deadlineMs} ms deadline`
                : `only ${streak} consecutive pass${streak === 1 ? "" : "es"} before the ${settings.deadlineMs} ms deadline; ${need}`;
        return { ...common, errorClass: "deadline", seen };
    }
    const tail = streak > 0 ? ` (then ${streak} pass${streak === 1 ? "" : "es"}; ${need})` : "";
    return { ...common, errorClass: lastFailure.errorClass, seen: lastFailure.seen + tail };
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
    });
}

class AttemptTimeout extends Error {
    readonly ms: number;
    constructor(ms: number) {
        super(`no complete answer within ${ms} ms`);
        this.ms = ms;
    }
}

interface Answer {
    readonly status: number;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: http.IncomingMessage;
}

/** One request on a fresh connection; resolves with the response head, the body still to read. */
function send(ctx: Context, method: HttpMethod, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const options: https.RequestOptions = {
            method,
            headers: body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) },
            // No agent: a connection of its own, closed after the answer.
            agent: false,
            signal,
            ...(ctx.lookup ? { lookup: ctx.lookup } : {}),
        };
        const onResponse = (res: http.IncomingMessage) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
        const req =
            url.protocol === "https:"
                ? https.request(url, { ...options, ...(ctx.secureContext ? { secureContext: ctx.secureContext } : {}) }, onResponse)
                : http.request(url, options, onResponse);
        req.on("error", reject);
        req.end(body);
    });
}

async function attempt(ctx: Context, check: Check, method0: HttpMethod, url0: URL, budgetMs: number): Promise<Outcome> {
    const { settings } = ctx;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new AttemptTimeout(budgetMs)), budgetMs);
    const onStop = () => controller.abort(ctx.stop.signal.reason);
    ctx.stop.signal.addEventListener("abort", onStop, { once: true });
    const t0 = performance.now();
    const latency = () => performance.now() - t0;
    let method = method0;
    let url = url0;
    let body: string | undefined = check.body !== undefined ? JSON.stringify(check.body) : undefined;
    let status: number | undefined;
    const headers: Record<string, string> = {
        "user-agent": USER_AGENT,
        accept: check.expect?.json ? "application/json" : "*/*",
        ...ctx.sharedHeaders,
        ...check.headers,
    };
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
        headers["content-type"] = "application/json";
    }
    const fail = (errorClass: ErrorClass, seen: string): Outcome => ({
        ok: false,
        errorClass,
        seen,
        ...(status !== undefined ? { status } : {}),
        latencyMs: latency(),
    });

    try {
        for (let hop = 0; ; hop += 1) {
            const res = await send(ctx, method, url, headers, body, controller.signal);
            status = res.status;
            const location = headerValue(res.headers["location"]);
            if (status >= 300 && status < 400 && location !== undefined) {
                res.body.destroy();
                let target: URL;
                try {
                    target = new URL(location, url);
                } catch {
                    return fail("redirect", `${status} redirect to an invalid location ${JSON.stringify(location.slice(0, 200))}`);
                }
                if (!sameHost(url0, target)) {
                    return fail("redirect", `${status} redirect to ${target.href}: another host or a downgrade to http, never followed`);
                }
                if (hop >= settings.maxRedirects) {
                    return fail("redirect", `more than ${settings.maxRedirects} same-host redirects (last to ${target.href})`);
                }
                // As browsers do: 303, and 301/302 after a POST, continue as a GET without body.
                if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
                    method = "GET";
                    body = undefined;
                    delete headers["content-type"];
                }
                url = target;
                continue;
            }

            const read = await readCapped(res.body, headerValue(res.headers["content-length"]), settings.maxBodyBytes);
            const statusProblem = checkStatus(check, status);
            if (statusProblem) return fail("status", `${statusProblem}${snippet(read.text)}`);
            if (read.overCap) return fail("body", `response body exceeds the ${settings.maxBodyBytes}-byte cap; reading stopped there`);
            const bodyProblem = checkBody(check, headerValue(res.headers["content-type"]), read.text);
            if (bodyProblem) return fail("body", bodyProblem);
            return { ok: true, status, latencyMs: latency() };
        }
    } catch (err) {
        if (controller.signal.aborted) {
            if (!(controller.signal.reason instanceof AttemptTimeout)) return fail("stopped", "stopped: another check failed for good");
            return fail("timeout", `${status === undefined ? "no response" : `status ${status} but the body did not finish`} within ${budgetMs} ms`);
        }
        const [errorClass, seen] = classify(err, url);
        return fail(errorClass, seen);
    } finally {
        clearTimeout(timer);
        ctx.stop.signal.removeEventListener("abort", onStop);
    }
}

function headerValue(v: string | string[] | undefined): string | undefined {
    return Array.isArray(v) ? v[0] : v;
}

/** Same host name, and the same scheme and port, or an upgrade from http to https. */
function sameHost(origin: URL, target: URL): boolean {
    if (target.hostname !== origin.hostname) return false;
    if (target.protocol === origin.protocol) return target.port === origin.port;
    return origin.protocol === "http:" && target.protocol === "https:";
}

/** Reads the body up to `cap` bytes; past it, the connection is dropped rather than drained. */
async function readCapped(body: http.IncomingMessage, contentLength: string | undefined, cap: number): Promise<{ text: string; overCap: boolean }> {
    if (contentLength !== undefined && Number(contentLength) > cap) {
        body.destroy();
        return { text: "", overCap: true };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const data of body) {
        const chunk = data as Buffer;
        size += chunk.length;
        if (size > cap) {
            // Stops an endless body: the connection is dropped rather than drained.
            body.destroy();
            chunks.push(chunk.subarray(0, cap - (size - chunk.length)));
            return { text: Buffer.concat(chunks).toString("utf8"), overCap: true };
        }
        chunks.push(chunk);
    }
    return { text: Buffer.concat(chunks).toString("utf8"), overCap: false };
}

function snippet(text: string): string {
    const t = text.replace(/\s+/g, " ").trim();
    if (t.length === 0) return "";
    return `; body: ${t.length > 160 ? `${t.slice(0, 157)}...` : t}`;
}

function acceptedStatuses(check: Check): readonly number[] | undefined {
    const s = check.expect?.status;
    return s === undefined ? undefined : typeof s === "number" ? [s] : s;
}

function checkStatus(check: Check, status: number): string | undefined {
    const accepted = acceptedStatuses(check);
    const ok = accepted ? accepted.includes(status) : status >= 200 && status < 300;
    return ok ? undefined : `status ${status}`;
}

const JSON_CONTENT_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

function checkBody(check: Check, contentType: string | undefined, text: string): string | undefined {
    const want = check.expect;
    if (want?.bodyContains !== undefined && !text.includes(want.bodyContains)) {
        return `body does not contain ${JSON.stringify(want.bodyContains)}${snippet(text)}`;
    }
    if (!want?.json) return undefined;
    if (!contentType || !JSON_CONTENT_TYPE.test(contentType)) {
        return `content-type ${contentType === undefined ? "missing" : JSON.stringify(contentType)}, not application/json${snippet(text)}`;
    }
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (err) {
        return `invalid JSON (${(err as Error).message})${snippet(text)}`;
    }
    const problems = want.json.map((f) => checkField(doc, f)).filter((p): p is string => p !== undefined);
    return problems.length > 0 ? problems.join("; ") : undefined;
}

const MISSING = Symbol("missing");

function lookupPath(doc: unknown, path: string): unknown {
    let cur: unknown = doc;
    for (const key of path.split(".")) {
        if (Array.isArray(cur) && /^\d+$/.test(key)) {
            cur = Number(key) < cur.length ? cur[Number(key)] : MISSING;
        } else if (cur !== null && typeof cur === "object" && Object.prototype.hasOwnProperty.call(cur, key)) {
            cur = (cur as Record<string, unknown>)[key];
        } else {
            return MISSING;
        }
        if (cur === MISSING) return MISSING;
    }
    return cur;
}

function jsonType(v: unknown): string {
    return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function showJson(v: unknown): string {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function checkField(doc: unknown, f: JsonFieldExpectation): string | undefined {
    const v = lookupPath(doc, f.path);
    if (v === MISSING) return `JSON field ${f.path} is missing`;
    if (f.type !== undefined && jsonType(v) !== f.type) return `JSON field ${f.path} is a ${jsonType(v)} (${showJson(v)}), not a ${f.type}`;
    if (f.nonEmpty && isEmpty(v)) return `JSON field ${f.path} is empty (${showJson(v)})`;
    if ("equals" in f && !deepEqual(v, f.equals)) return `JSON field ${f.path} is ${showJson(v)}, not ${showJson(f.equals)}`;
    return undefined;
}

function isEmpty(v: unknown): boolean {
    if (v === null || v === undefined) return true;
    if (typeof v === "string") return v.trim().length === 0;
    if (Array.isArray(v)) return v.length === 0;
    if (typeof v === "object") return Object.keys(v).length === 0;
    return false;
}

/** A passing answer, in words, for the report's "expected" line. */
export function describeExpectation(check: Check): string {
    const accepted = acceptedStatuses(check);
    const parts = [accepted ? `status ${accepted.join(" or ")}` : "status 2xx"];
    const want = check.expect;
    if (want?.json) {
        parts.push("content-type application/json");
        for (const f of want.json) {
            const conds: string[] = [];
            if (f.type !== undefined) conds.push(`a ${f.type}`);
            if (f.nonEmpty) conds.push("non-empty");
            if ("equals" in f) conds.push(`=== ${showJson(f.equals)}`);
            parts.push(`JSON ${f.path} ${conds.length > 0 ? conds.join(", ") : "present"}`);
        }
    }
    if (want?.bodyContains !== undefined) parts.push(`body contains ${JSON.stringify(want.bodyContains)}`);
    return parts.join("; ");
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME|ALTNAME/i;

/** What to do about a certificate Node refused, by OpenSSL code. */
function tlsFix(codes: readonly string[]): string {
    if (codes.some((c) => /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(c))) {
        return "; fix: trust the CA that signed it (progression smoke --ca FILE, or the SmokeTest's caPem)";
    }
    if (codes.includes("CERT_HAS_EXPIRED")) return "; fix: renew the app's certificate";
    if (codes.some((c) => /ALTNAME|HOSTNAME/.test(c))) return "; fix: use the host name the certificate is issued for in the base URL";
    return "";
}

/** Maps a thrown transport error (walking causes and AggregateErrors) to a class and a sentence. */
export function classify(err: unknown, url: URL): [ErrorClass, string] {
    const seen = new Set<unknown>();
    const queue: unknown[] = [err];
    const codes: string[] = [];
    const messages: string[] = [];
    while (queue.length > 0) {
        const e = queue.shift();
        if (e === null || e === undefined || seen.has(e)) continue;
        seen.add(e);
        if (typeof e === "object") {
            const o = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
            if (typeof o.code === "string") codes.push(o.code);
            if (typeof o.message === "string" && o.message) messages.push(o.message);
            queue.push(o.cause);
            if (Array.isArray(o.errors)) queue.push(...(o.errors as unknown[]));
        }
    }
    // Node appends a hint about its own --use-system-ca flag to some TLS errors: not the fix here.
    const first = (messages[0] ?? String(err)).replace(/;\s*if the root CA is installed locally.*$/s, "");
    const detail = `${first}${codes.length > 0 ? ` [${[...new Set(codes)].join(", ")}]` : ""}`;
    const has = (...cs: string[]) => codes.some((c) => cs.includes(c));
    const host = url.host;
    if (has("ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA")) return ["dns", `DNS lookup of ${url.hostname} failed: ${detail}`];
    if (has("ECONNREFUSED")) return ["refused", `connection to ${host} refused: ${detail}`];
    if (has("UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"))
        return ["timeout", `timed out talking to ${host}: ${detail}`];
    // EPROTO: the TLS handshake broke, e.g. plain HTTP answering on an https URL.
    if (codes.some((c) => TLS_CODE.test(c) || c === "EPROTO")) return ["tls", `TLS verification of ${host} failed: ${detail}${tlsFix(codes)}`];
    if (has("ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE")) return ["reset", `connection to ${host} reset or closed early: ${detail}`];
    return ["network", `request to ${host} failed: ${detail}`];
}
