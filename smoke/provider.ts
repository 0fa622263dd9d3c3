// The logic of the SmokeTest dynamic provider, as plain functions on plain objects so tests can
// call them directly. The serialized provider in components/smokeTest.ts only loads this file
// (through tsx, inside each method) and delegates; no Pulumi import here, and this file is what
// pulls undici into the provider process, never the Pulumi program.
//
// Two modes: HTTP checks through the smoke engine, or (command mode) the team's own shell command.
//
// State rules, the same in both modes: a failing run throws, so
//   - a failed create records nothing, and the next `up` creates (and runs) again;
//   - a failed update leaves the previous outputs, whose `trigger` differs from the new one, so
//     the next `up` diffs as changed and runs again.
// The thrown error must never carry an `id`: the Pulumi dynamic provider host would turn it into
// a "created but failed to initialise" result and record the new inputs as verified.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { kubeApi } from "../kube/api";
import { redactString, secretStrings } from "../proc/redact";
import { type CommandResult, commandEnv, OUTPUT_CAP_BYTES, runCommand } from "../proc/run";
import { candidateReport } from "./candidate";
import { checksFromInputs } from "./checks";
import { runSmoke } from "./engine";
import { formatReport } from "./format";
import type { SmokeReport } from "./types";

interface SmokeRunCommon {
    readonly baseUrl: string;
    readonly trigger: string;
    /**
     * What the run verifies (the verified record's subject: image, manifests' digest, flags, commit),
     * returned in the outputs only when the run passes, so a failed run never changes it.
     */
    readonly subject?: Readonly<Record<string, unknown>>;
    /** HTTP mode: by when every check must have passed. Command mode: when the command is killed. */
    readonly deadlineMs: number;
    readonly runOnEveryUp: boolean;
    /**
     * With runOnEveryUp, a fresh id per program run: inputs that never change between `up`s mean
     * no change without asking the diff (rule 4 of components/serializedProvider.ts).
     */
    readonly runId?: string;
    /**
     * The candidate's pods, read into the report when the checks fail: the kubeconfig (a secret)
     * and context, the namespace and the candidate revision's labels. @default - no pods in the report
     */
    readonly candidate?: CandidatePods;
    /**
     * Secret values the gate knows (the stack's secrets), redacted from the command's output, the
     * report and the candidate pods' logs before they reach state or an error. @default - none
     */
    readonly redact?: readonly string[];
}

export interface CandidatePods {
    readonly kubeconfig: string;
    readonly context: string;
    readonly namespace: string;
    readonly selector: Record<string, string>;
}

/**
 * Inputs of the dynamic resource, as the provider receives them (secrets already unwrapped).
 * HTTP mode: the smoke engine runs `checks`.
 */
export interface ChecksRunInputs extends SmokeRunCommon {
    /** The checks as JSON text: one string keeps state and diffs simple. */
    readonly checks: string;
    readonly timeoutMs: number;
    readonly intervalMs: number;
    readonly consecutivePasses: number;
    /** Same-way assertion failures in a row that end a check at once (0: only the deadline does). @default 3 */
    readonly failureLimit?: number;
    readonly headers?: Record<string, string>;
    readonly caPem?: string;
    readonly command?: undefined;
    readonly cwd?: undefined;
}

/**
 * Command mode: the team's own shell command instead of the HTTP checks. It runs here, in the
 * dynamic provider, rather than through `@pulumi/command`: a dynamic provider needs no plugin of
 * its own, so it runs wherever the program itself runs.
 */
export interface CommandRunInputs extends SmokeRunCommon {
    /** Run as `/bin/sh -c <command>`; kept in outputs (it is no secret) and verified. */
    readonly command: string;
    /** The Pulumi project directory at program time; where the command runs. Not verified. */
    readonly cwd: string;
    readonly checks?: undefined;
    readonly timeoutMs?: undefined;
    readonly intervalMs?: undefined;
    readonly consecutivePasses?: undefined;
    readonly failureLimit?: undefined;
    /** Never set: headers may be secrets and are not handed to the command. */
    readonly headers?: undefined;
    readonly caPem?: undefined;
}

export type SmokeRunInputs = ChecksRunInputs | CommandRunInputs;

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

interface SmokeRunOutputsCommon {
    readonly baseUrl: string;
    readonly trigger: string;
    /** The inputs' `subject` of the run that passed, or null. */
    readonly subject: Readonly<Record<string, unknown>> | null;
    readonly deadlineMs: number;
    readonly runOnEveryUp: boolean;
    /** ISO time the checks (or the command) last passed. */
    readonly passedAt: string;
    readonly elapsedMs: number;
    /** Per-check results; empty in command mode. */
    readonly results: SmokeCheckOutcome[];
}

/** Outputs stored in state. No header values, not even hashed: they are secrets. */
export interface ChecksRunOutputs extends SmokeRunOutputsCommon {
    readonly checks: string;
    readonly timeoutMs: number;
    readonly intervalMs: number;
    readonly consecutivePasses: number;
    /** sha256 of the CA PEM, so a CA change re-runs without storing the PEM twice. */
    readonly caSha256: string | null;
    readonly command?: undefined;
    readonly commandOutput?: undefined;
}

/** Command-mode outputs. No `cwd`: a machine's path is not what was verified. */
export interface CommandRunOutputs extends SmokeRunOutputsCommon {
    readonly command: string;
    /** The last ~1 KiB of the passing run's output, for a look at what it checked. */
    readonly commandOutput: string;
    readonly checks?: undefined;
    readonly timeoutMs?: undefined;
    readonly intervalMs?: undefined;
    readonly consecutivePasses?: undefined;
    readonly caSha256?: undefined;
}

export type SmokeRunOutputs = ChecksRunOutputs | CommandRunOutputs;

/**
 * Output kept for the error message, as the runner keeps it. Bounded because the message travels
 * back to the engine as a gRPC status (an HTTP/2 trailer, percent-encoded); 64 KiB of even random
 * bytes still arrives intact (checked with pulumi 3.274.1).
 */
export { OUTPUT_CAP_BYTES };

/** What a failed check leaves, said in every failure report. */
export const NOT_LIVE =
    "live traffic did not move to the candidate: it stays on the last verified revision (on a first deploy there is none, and the live Service selects nothing yet), " +
    "and the candidate keeps running behind the preview route for inspection. The next 'pulumi up' checks it again";

/** A failed smoke run; the message is the formatted report. */
export class SmokeFailedError extends Error {
    override name = "SmokeFailedError";
    constructor(
        readonly report: SmokeReport,
        trigger: string,
    ) {
        super(`smoke checks failed (trigger ${trigger.slice(0, 12)}); ${NOT_LIVE}\n${formatReport(report)}`);
    }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const caHash = (pem: string | undefined): string | null => (pem ? sha256(pem) : null);

async function verifyChecks(inputs: ChecksRunInputs): Promise<ChecksRunOutputs> {
    const checks = checksFromInputs(inputs.checks);
    const report = await runSmoke(inputs.baseUrl, checks, {
        timeoutMs: inputs.timeoutMs,
        deadlineMs: inputs.deadlineMs,
        intervalMs: inputs.intervalMs,
        consecutivePasses: inputs.consecutivePasses,
        ...(inputs.failureLimit !== undefined ? { failureLimit: inputs.failureLimit } : {}),
        ...(inputs.headers && Object.keys(inputs.headers).length > 0 ? { headers: inputs.headers } : {}),
        ...(inputs.caPem ? { caPem: inputs.caPem } : {}),
    });
    if (!report.ok) throw new SmokeFailedError(report, inputs.trigger);
    return {
        baseUrl: inputs.baseUrl,
        trigger: inputs.trigger,
        subject: inputs.subject ?? null,
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

// --- command mode ---------------------------------------------------------------------------

/** Output kept in state after a pass: a glance, not a log. */
const STATE_OUTPUT_CHARS = 1024;

/** A failed command-mode run; the message names the command, how it ended and its output tail. */
export class SmokeCommandError extends Error {
    override name = "SmokeCommandError";
    constructor(
        readonly command: string,
        /** e.g. "exited with status 3", "killed at the deadline after 30s". */
        readonly outcome: string,
        /** The captured stdout and stderr, interleaved, at most OUTPUT_CAP_BYTES. */
        readonly output: string,
        trigger: string,
    ) {
        const shown = output.trim() === "" ? "(no output)" : output.replace(/\n$/, "");
        super(
            `smoke command failed (trigger ${trigger.slice(0, 12)}): \`${command}\` ${outcome}; ${NOT_LIVE}\n` +
                `output (stdout and stderr, last ${OUTPUT_CAP_BYTES / 1024} KiB at most):\n${shown}`,
        );
    }
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))}s`;

async function verifyCommand(inputs: CommandRunInputs): Promise<CommandRunOutputs> {
    const { command, cwd, trigger } = inputs;
    if (!existsSync(cwd)) {
        throw new SmokeCommandError(
            command,
            `could not start: its working directory ${cwd} (the Pulumi project directory when the program ran) does not exist here; run 'pulumi up' from the project directory`,
            "",
            trigger,
        );
    }
    // Headers are deliberately not passed: they are secrets, and the command has its own ways.
    // Nor is this process's environment: only the allowlisted variables (proc/run.ts).
    const env = commandEnv({ SMOKE_BASE_URL: inputs.baseUrl, SMOKE_TRIGGER: trigger });
    let result: CommandResult;
    try {
        result = await runCommand(command, { cwd, env, timeoutMs: inputs.deadlineMs, secrets: secretStrings(inputs.redact ?? []) });
    } catch (err) {
        throw new SmokeCommandError(command, `could not start: ${(err as Error).message}`, "", trigger);
    }
    if (result.timedOut) {
        throw new SmokeCommandError(command, `killed at the deadline after ${seconds(inputs.deadlineMs)}`, result.output, trigger);
    }
    if (result.code !== 0) {
        const outcome = result.code === null ? `was killed by signal ${result.signal ?? "(unknown)"}` : `exited with status ${result.code}`;
        throw new SmokeCommandError(command, outcome, result.output, trigger);
    }
    return {
        baseUrl: inputs.baseUrl,
        trigger,
        subject: inputs.subject ?? null,
        command,
        deadlineMs: inputs.deadlineMs,
        runOnEveryUp: inputs.runOnEveryUp,
        passedAt: new Date().toISOString(),
        elapsedMs: result.elapsedMs,
        results: [],
        commandOutput: result.output.slice(-STATE_OUTPUT_CHARS),
    };
}

async function verify(inputs: SmokeRunInputs): Promise<SmokeRunOutputs> {
    const secrets = secretStrings(inputs.redact ?? []);
    try {
        return await (inputs.command !== undefined ? verifyCommand(inputs) : verifyChecks(inputs));
    } catch (err) {
        if (!(err instanceof SmokeFailedError || err instanceof SmokeCommandError)) throw err;
        if (inputs.candidate !== undefined) {
            const c = inputs.candidate;
            const pods = await candidateReport(kubeApi(c.kubeconfig, c.context), c.namespace, c.selector);
            err.message += `\nthe candidate's pods (namespace ${c.namespace}):\n${pods}`;
        }
        err.message = redactString(err.message, secrets);
        throw err;
    }
}

export async function smokeCreate(inputs: SmokeRunInputs): Promise<{ id: string; outs: SmokeRunOutputs }> {
    const outs = await verify(inputs);
    // The id only has to be stable for the resource's life; updates keep it.
    return { id: `smoke-${sha256(`${inputs.baseUrl}\n${inputs.trigger}`).slice(0, 16)}`, outs };
}

export async function smokeUpdate(_id: string, _olds: SmokeRunOutputs, news: SmokeRunInputs): Promise<{ outs: SmokeRunOutputs }> {
    return { outs: await verify(news) };
}

/**
 * The fields whose change means "what was verified is no longer what is deployed". Switching
 * modes changes `command` (and `checks`), so it runs too; `cwd` is where, not what, and is left out.
 */
const VERIFIED_FIELDS = ["trigger", "baseUrl", "checks", "command", "timeoutMs", "deadlineMs", "intervalMs", "consecutivePasses"] as const;

/**
 * An update (same id, checks or command run again) when any verified field or the CA changed,
 * or always with `runOnEveryUp`. Header changes alone do not re-run: they are secrets and not
 * kept in outputs to compare. Unknown values during preview compare unequal and so show as
 * changes.
 */
export function smokeDiff(_id: string, olds: Partial<SmokeRunOutputs>, news: SmokeRunInputs): { changes: boolean; replaces: string[] } {
    const changed = VERIFIED_FIELDS.filter((k) => olds[k] !== news[k]);
    const caChanged = (olds.caSha256 ?? null) !== caHash(news.caPem);
    // A state written before an output existed, or a failed first run: run.
    const neverPassed = typeof olds.passedAt !== "string" || olds.passedAt === "";
    // A subject asked for but never recorded (a state from before subjects existed): run, so the
    // verified record exists. A subject that changed alone (say, the commit) does not re-run: the
    // record keeps the subject of the run that last passed, which is what was verified.
    const subjectMissing = news.subject !== undefined && (olds.subject === undefined || olds.subject === null);
    return {
        changes: news.runOnEveryUp === true || changed.length > 0 || caChanged || neverPassed || subjectMissing,
        replaces: [],
    };
}

/** The provider's methods, as components/serializedProvider.ts loads them. */
export const logic = { create: smokeCreate, update: smokeUpdate, diff: smokeDiff };
