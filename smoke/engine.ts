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
// The parts: this file polls (attempts, pauses, the verdict per check); smoke/transport.ts makes
// one attempt (a request, its redirects, its budget); smoke/assertions.ts judges an answer;
// smoke/classify.ts names a transport error; smoke/clock.ts is the time all of it reads.
import { createSecureContext, rootCertificates } from "node:tls";
import { describeExpectation } from "./assertions";
import { checkUrl, parseBaseUrl, resolveSmokeOptions } from "./checks";
import { systemClock } from "./clock";
import { collectSecrets, redactDeep } from "./redact";
import { type AttemptContext, attempt, loadUndici, type Outcome } from "./transport";
import type { Check, CheckReport, ErrorClass, HttpMethod, SmokeOptions, SmokeReport, ValidChecks } from "./types";

interface Context extends AttemptContext {
    readonly base: URL;
    readonly deadlineAt: number;
    readonly startedAt: number;
    /** The check whose final failure stopped the run. */
    stoppedBy?: string;
}

/**
 * Runs `checks` against `baseUrl`. Never throws for a failing app: the verdict is in the
 * report. Throws SmokeConfigError for an invalid base URL or options. The checks were judged
 * where they were read (ValidChecks).
 */
export async function runSmoke(baseUrl: string, checks: ValidChecks, options: SmokeOptions = {}): Promise<SmokeReport> {
    const base = parseBaseUrl(baseUrl);
    const normalized = checks;
    const settings = resolveSmokeOptions(options);
    const secrets = collectSecrets(options.headers, normalized);

    // A custom CA extends the system roots rather than replacing them, so a cluster CA and a
    // public certificate both verify. One context per run: a `ca` list would be parsed again
    // (150-odd roots) on every connection. Verification is never turned off.
    const secureContext = options.caPem ? createSecureContext({ ca: [...rootCertificates, options.caPem] }) : undefined;

    // Loaded before the clock starts: the deadline and the first attempt's budget are the app's.
    const undici = loadUndici();
    const clock = options.clock ?? systemClock;
    const startedAt = clock.now();
    const startedIso = new Date().toISOString();
    const ctx: Context = {
        base,
        settings,
        secureContext,
        lookup: options.lookup,
        undici,
        sharedHeaders: options.headers ?? {},
        clock,
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
        elapsedMs: Math.round(clock.now() - startedAt),
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

// One loop: the check's state (its passes in a row, its runs of failures, its last failure) lives
// in its locals, and the report at the end is drawn from them; split, that state would travel in an
// object between the parts.
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
        const remaining = ctx.deadlineAt - ctx.clock.now();
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
        if (ctx.deadlineAt - ctx.clock.now() <= delay) break;
        await ctx.clock.sleep(delay, ctx.stop.signal);
    }

    const passed = streak >= settings.consecutivePasses;
    const elapsedMs = Math.round(ctx.clock.now() - ctx.startedAt);
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
