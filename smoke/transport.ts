// One attempt of a check: a request on a connection of its own, its same-host redirects, its
// answer judged (smoke/assertions.ts) or its error named (smoke/classify.ts), all inside one budget.
//
// Transport: undici, loaded when checks first run (see loadUndici). Each request gets a Client
// of its own, destroyed once its answer is read: one fresh connection per attempt (and per
// redirect hop), never kept alive or reused, so each attempt may land on another pod behind a
// Service and a broken pod cannot hide behind a kept-alive connection to a healthy one. The
// connection is set up explicitly: HTTP/1.1 only, the run's TLS context, the caller's DNS lookup,
// no TLS session resumption, and one clock (the attempt's budget) instead of undici's own timers.
import type { LookupFunction } from "node:net";
import type { SecureContext } from "node:tls";
import type * as Undici from "undici";
import { checkBody, checkStatus, snippet } from "./assertions";
import { classify } from "./classify";
import type { Clock } from "./clock";
import type { Check, ErrorClass, HttpMethod, ResolvedSmokeOptions } from "./types";

export type Outcome =
    | { readonly ok: true; readonly status: number; readonly latencyMs: number }
    | {
          readonly ok: false;
          readonly errorClass: ErrorClass;
          readonly seen: string;
          readonly status?: number;
          readonly latencyMs: number;
      };

/** What an attempt needs of its run. */
export interface AttemptContext {
    readonly settings: ResolvedSmokeOptions;
    readonly secureContext: SecureContext | undefined;
    readonly lookup: LookupFunction | undefined;
    readonly undici: Transport;
    readonly sharedHeaders: Readonly<Record<string, string>>;
    readonly clock: Clock;
    /** Aborted when a check fails for good: the others stop, the verdict is known. */
    readonly stop: AbortController;
}

const USER_AGENT = "progression-smoke/1";

class AttemptTimeout extends Error {
    readonly ms: number;
    constructor(ms: number) {
        super(`no complete answer within ${ms} ms`);
        this.ms = ms;
    }
}

/**
 * The two modules of undici the engine uses, by path inside the package. Its entry point loads
 * all of undici (fetch, WebSocket, EventSource, caches, mocks, proxy agents: some 200 files, about
 * 0.15 s natively and 0.25 s through tsx); these and what they need take about a third of that. The
 * package has no `exports` map, so the paths are public to require(), and the exact pin keeps
 * them still; tests/smoke/engine.test.ts checks they are what `require("undici")` exports.
 */
export const UNDICI_MODULES = {
    /** `Client`: one origin, its connections set up by `connect`. */
    Client: "undici/lib/dispatcher/client.js",
    /** `request`: what the entry point adds to every dispatcher as `dispatcher.request()`. */
    request: "undici/lib/api/api-request.js",
} as const;

export interface Transport {
    readonly Client: typeof Undici.Client;
    /** undici's request API, called on a Client (`this`). */
    readonly request: (this: Undici.Dispatcher, options: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData>;
}

let transport: Transport | undefined;

/**
 * undici, loaded when checks first run rather than with this file: the CLI's --help and the
 * SmokeTest provider's diff never pay for it. Through require(), so it comes through the same
 * loader as this file: a second copy of undici in one process (say, one loaded natively beside
 * the Kubernetes client's, loaded through tsx) breaks both.
 */
export function loadUndici(): Transport {
    /* eslint-disable @typescript-eslint/no-require-imports */
    transport ??= {
        Client: require(UNDICI_MODULES.Client) as Transport["Client"],
        request: require(UNDICI_MODULES.request) as Transport["request"],
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
    return transport;
}

type Body = Undici.Dispatcher.ResponseData["body"];

interface Answer {
    readonly status: number;
    readonly headers: Undici.Dispatcher.ResponseData["headers"];
    readonly body: Body;
}

/**
 * One request on a connection of its own; resolves with the response head, the body still to
 * read. `done` releases the connection: it drops an unread body and closes the socket.
 */
async function send(
    ctx: AttemptContext,
    method: HttpMethod,
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
): Promise<Answer & { readonly done: () => void }> {
    const client = new ctx.undici.Client(url.origin, {
        connect: {
            ...(ctx.secureContext ? { secureContext: ctx.secureContext } : {}),
            ...(ctx.lookup ? { lookup: ctx.lookup } : {}),
            // A full handshake, the certificate verified, on every attempt.
            maxCachedSessions: 0,
            timeout: 0,
        },
        // HTTP/1.1, as before: undici would otherwise offer HTTP/2 to a TLS server.
        allowH2: false,
        // 0 (with connect.timeout above): no timers of undici's own. The attempt's budget (its
        // AbortSignal) bounds connect, headers, body and redirects together, where undici's
        // timers would each restart the clock for their phase.
        headersTimeout: 0,
        bodyTimeout: 0,
    });
    const release = (answer?: Body) => {
        if (answer && !answer.readableEnded) answer.destroy();
        client.destroy().catch(() => undefined);
    };
    try {
        // `reset`: the request says `connection: close`, so the server does not keep it either.
        const res = await ctx.undici.request.call(client, { method, path: url.pathname + url.search, headers, body: body ?? null, signal, reset: true });
        // A body dropped before its end (a redirect, the cap, a timeout) is reported by undici as
        // an 'error' event. The reader learns of errors by iterating; this listener keeps a drop
        // after it stopped from becoming an uncaught exception.
        res.body.on("error", () => undefined);
        return { status: res.statusCode, headers: res.headers, body: res.body, done: () => release(res.body) };
    } catch (err) {
        release();
        throw err;
    }
}

// One function: the attempt's redirect loop, its budget's timer and its connection's release share
// the locals of one try/finally.
export async function attempt(ctx: AttemptContext, check: Check, method0: HttpMethod, url0: URL, budgetMs: number): Promise<Outcome> {
    const { settings } = ctx;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new AttemptTimeout(budgetMs)), budgetMs);
    const onStop = () => controller.abort(ctx.stop.signal.reason);
    ctx.stop.signal.addEventListener("abort", onStop, { once: true });
    const t0 = ctx.clock.now();
    const latency = () => ctx.clock.now() - t0;
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

    let release: (() => void) | undefined;
    try {
        for (let hop = 0; ; hop += 1) {
            const res = await send(ctx, method, url, headers, body, controller.signal);
            release = res.done;
            status = res.status;
            const location = headerValue(res.headers["location"]);
            if (status >= 300 && status < 400 && location !== undefined) {
                release();
                release = undefined;
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
        release?.();
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

/**
 * Reads the body up to `cap` bytes; past it, reading stops and the caller drops the connection
 * (the attempt's release) rather than draining it.
 */
async function readCapped(body: Body, contentLength: string | undefined, cap: number): Promise<{ text: string; overCap: boolean }> {
    if (contentLength !== undefined && Number(contentLength) > cap) return { text: "", overCap: true };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const data of body) {
        const chunk = data as Buffer;
        size += chunk.length;
        if (size > cap) {
            // Stops an endless body.
            chunks.push(chunk.subarray(0, cap - (size - chunk.length)));
            return { text: Buffer.concat(chunks).toString("utf8"), overCap: true };
        }
        chunks.push(chunk);
    }
    return { text: Buffer.concat(chunks).toString("utf8"), overCap: false };
}
