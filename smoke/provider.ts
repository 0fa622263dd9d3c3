// The logic of the SmokeTest dynamic provider, as plain functions on plain objects so tests can
// call them directly. The serialized provider in components/smokeTest.ts only loads this file
// (through tsx, inside each method) and delegates; no Pulumi import here, and this file is what
// pulls undici into the provider process, never the Pulumi program.
//
// State rules (issue 3, FAULTS 30): a failing run throws, so
//   - a failed create records nothing, and the next `up` creates (and runs) again;
//   - a failed update leaves the previous outputs, whose `trigger` differs from the new one, so
//     the next `up` diffs as changed and runs again.
// The thrown error must never carry an `id`: the Pulumi dynamic provider host would turn it into
// a "created but failed to initialise" result and record the new inputs as verified.
import { createHash } from "node:crypto";
import { parseChecks } from "./checks";
import { runSmoke } from "./engine";
import { formatReport } from "./format";
import type { SmokeReport } from "./types";

/** Inputs of the dynamic resource, as the provider receives them (secrets already unwrapped). */
export interface SmokeRunInputs {
    readonly baseUrl: string;
    readonly trigger: string;
    /** The checks as JSON text: one string keeps state and diffs simple. */
    readonly checks: string;
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly consecutivePasses: number;
    readonly runOnEveryUp: boolean;
    readonly headers?: Record<string, string>;
    readonly caPem?: string;
}

/** One check's result as stored in state: enough for promotion and dashboards. */
export interface SmokeCheckOutcome {
    readonly name: string;
    readonly method: string;
    readonly url: string;
    readonly passed: boolean;
    readonly status: number | null;
    readonly latencyMs: number | null;
    readonly attempts: number;
}

/** Outputs stored in state. No header values, not even hashed: they are secrets. */
export interface SmokeRunOutputs {
    readonly baseUrl: string;
    readonly trigger: string;
    readonly checks: string;
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly consecutivePasses: number;
    readonly runOnEveryUp: boolean;
    /** sha256 of the CA PEM, so a CA change re-runs without storing the PEM twice. */
    readonly caSha256: string | null;
    /** ISO time the checks last passed. */
    readonly passedAt: string;
    readonly elapsedMs: number;
    readonly results: SmokeCheckOutcome[];
}

/** A failed smoke run; the message is the formatted report. */
export class SmokeFailedError extends Error {
    override name = "SmokeFailedError";
    constructor(
        readonly report: SmokeReport,
        trigger: string,
    ) {
        super(`smoke checks failed (trigger ${trigger.slice(0, 12)}); nothing was rolled back, the next 'pulumi up' runs them again\n${formatReport(report)}`);
    }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const caHash = (pem: string | undefined): string | null => (pem ? sha256(pem) : null);

async function verify(inputs: SmokeRunInputs): Promise<SmokeRunOutputs> {
    const checks = parseChecks(inputs.checks, "checks");
    const report = await runSmoke(inputs.baseUrl, checks, {
        timeoutMs: inputs.timeoutMs,
        deadlineMs: inputs.deadlineMs,
        intervalMs: inputs.intervalMs,
        consecutivePasses: inputs.consecutivePasses,
        ...(inputs.headers && Object.keys(inputs.headers).length > 0 ? { headers: inputs.headers } : {}),
        ...(inputs.caPem ? { caPem: inputs.caPem } : {}),
    });
    if (!report.ok) throw new SmokeFailedError(report, inputs.trigger);
    return {
        baseUrl: inputs.baseUrl,
        trigger: inputs.trigger,
        checks: inputs.checks,
        timeoutMs: inputs.timeoutMs,
        deadlineMs: inputs.deadlineMs,
        intervalMs: inputs.intervalMs,
        consecutivePasses: inputs.consecutivePasses,
        runOnEveryUp: inputs.runOnEveryUp,
        caSha256: caHash(inputs.caPem),
        passedAt: report.finishedAt,
        elapsedMs: report.elapsedMs,
        results: report.checks.map((c) => ({
            name: c.name,
            method: c.method,
            url: c.url,
            passed: c.passed,
            status: c.status ?? null,
            latencyMs: c.latencyMs ?? null,
            attempts: c.attempts,
        })),
    };
}

export async function smokeCreate(inputs: SmokeRunInputs): Promise<{ id: string; outs: SmokeRunOutputs }> {
    const outs = await verify(inputs);
    // The id only has to be stable for the resource's life; updates keep it.
    return { id: `smoke-${sha256(`${inputs.baseUrl}\n${inputs.trigger}`).slice(0, 16)}`, outs };
}

export async function smokeUpdate(_id: string, _olds: SmokeRunOutputs, news: SmokeRunInputs): Promise<{ outs: SmokeRunOutputs }> {
    return { outs: await verify(news) };
}

/** The fields whose change means "what was verified is no longer what is deployed". */
const VERIFIED_FIELDS = ["trigger", "baseUrl", "checks", "timeoutMs", "deadlineMs", "intervalMs", "consecutivePasses"] as const;

/**
 * An update (same id, checks run again) when any verified field or the CA changed, or always
 * with `runOnEveryUp`. Header changes alone do not re-run: they are secrets and not kept in
 * outputs to compare. Unknown values during preview compare unequal and so show as changes.
 */
export function smokeDiff(_id: string, olds: Partial<SmokeRunOutputs>, news: SmokeRunInputs): { changes: boolean; replaces: string[] } {
    const changed = VERIFIED_FIELDS.filter((k) => olds[k] !== news[k]);
    const caChanged = (olds.caSha256 ?? null) !== caHash(news.caPem);
    // A state written before an output existed, or a failed first run: run.
    const neverPassed = typeof olds.passedAt !== "string" || olds.passedAt === "";
    return {
        changes: news.runOnEveryUp === true || changed.length > 0 || caChanged || neverPassed,
        replaces: [],
    };
}
