// Job mode: create the migration Job, wait for it to complete or fail, and on failure read what
// Kubernetes knows (the Job's condition, its pods' states and logs, its events) into the report.
//
// The provider creates the Job itself rather than registering a `kubernetes:batch/v1:Job`: a
// failed Job stays failed, and the engine would keep that object as "created", so the next `up`
// could never retry. Here every attempt is a new Job (its name ends in a random suffix), and a
// finished one is left for `kubectl logs` until ttlSecondsAfterFinished removes it.
import { randomBytes } from "node:crypto";
import type * as K from "@kubernetes/client-node";
import type { EnvironmentName } from "../config/environments";
import { failureReport, MigrationFailedError, stopCause } from "./report";

/** The parts of a Job's status the gate reads. */
export interface JobStatusView {
    readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
}

export type JobState =
    { readonly state: "running" } | { readonly state: "complete" } | { readonly state: "failed"; readonly reason: string; readonly message: string };

/** Terminal or not: only `Complete` and `Failed` conditions end the wait. */
export function jobState(status: JobStatusView | undefined): JobState {
    const on = (type: string) => status?.conditions?.find((c) => c.type === type && c.status === "True");
    if (on("Complete")) return { state: "complete" };
    const failed = on("Failed");
    if (failed) return { state: "failed", reason: failed.reason ?? "Failed", message: failed.message ?? "" };
    return { state: "running" };
}

/** A pod of the Job as the report shows it. */
export interface PodView {
    readonly name: string;
    readonly phase: string;
    /** e.g. "terminated: Error (exit 3)", "waiting: ImagePullBackOff: ...". */
    readonly container: string;
    readonly log: string | undefined;
    readonly logError: string | undefined;
}

/** One line per pod, and the Job's warning events; the report's details. */
export function jobDetails(pods: readonly PodView[], events: readonly string[]): string[] {
    const lines = pods.length === 0 ? ["pods: none were created (see the events)"] : pods.map((p) => `pod ${p.name}: ${p.phase}, container ${p.container}`);
    return [...lines, ...events.map((e) => `event: ${e}`)];
}

/** The pods' logs, each under its name; where none could be read, why. */
export function podLogs(pods: readonly PodView[]): string {
    if (pods.length === 0) return "";
    return pods.map((p) => `--- ${p.name}\n${p.log !== undefined ? p.log : `(no log: ${p.logError ?? "unknown"})`}`).join("\n");
}

export interface JobRunInputs {
    readonly environment: EnvironmentName;
    readonly version: string;
    readonly trigger: string;
    readonly namespace: string;
    /** Name stem; each attempt appends "-" and a random suffix. */
    readonly jobNamePrefix: string;
    /** The Job manifest (without a name), as JSON. */
    readonly job: string;
    /** Kubeconfig contents and the context the stack's provider is pinned to. */
    readonly kubeconfig: string;
    readonly context: string;
    readonly lockTimeoutMs: number;
    readonly statementTimeoutMs: number;
    readonly deadlineMs: number;
}

export interface JobRunResult {
    readonly jobName: string;
    readonly elapsedMs: number;
    /** The end of the pods' logs. */
    readonly output: string;
}

/** How often the Job is read; a migration is seconds to minutes, so this is cheap. */
const POLL_MS = 1000;
/** After activeDeadlineSeconds, how long the Job controller gets to mark the Job failed. */
const CONTROLLER_GRACE_MS = 60_000;
/** API errors in a row tolerated while waiting (an API server restart, a network blip). */
const API_ERRORS_TOLERATED = 30;
const LOG_TAIL_LINES = 400;

function client(): typeof K {
    // Through the same TypeScript loader (tsx) this module runs under, though that costs seconds
    // per load: the client brings undici, and the SmokeTest provider, in the same process, loads
    // undici through tsx too. One copy loaded natively and one through tsx break each other
    // ("TypeError: Illegal constructor" from undici's CacheStorage). Only job mode pays this.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@kubernetes/client-node") as typeof K;
}

/** The API server's message in an error from the client, not the whole response. */
export function apiMessage(err: unknown): string {
    const e = err as { code?: number; body?: unknown; message?: string; cause?: { code?: string; message?: string } };
    let body = e.body;
    if (typeof body === "string") {
        try {
            body = JSON.parse(body);
        } catch {
            /* plain text */
        }
    }
    const msg = typeof body === "object" && body !== null && "message" in body ? String(body.message) : typeof body === "string" ? body : e.message;
    // A network failure says only "fetch failed"; the reason is its cause.
    const cause = e.cause ? `: ${e.cause.code ?? e.cause.message ?? ""}` : "";
    return e.code !== undefined ? `${e.code}: ${msg}` : `${String(msg ?? err)}${cause}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One function: create the Job, wait for it, and read its failure, with one client and one
// deadline.
export async function runMigrationJob(inputs: JobRunInputs): Promise<JobRunResult> {
    const k = client();
    const kc = new k.KubeConfig();
    kc.loadFromString(inputs.kubeconfig);
    kc.setCurrentContext(inputs.context);
    const batch = kc.makeApiClient(k.BatchV1Api);
    const core = kc.makeApiClient(k.CoreV1Api);
    const { namespace } = inputs;
    const name = `${inputs.jobNamePrefix}-${randomBytes(4).toString("hex").slice(0, 5)}`.slice(0, 63);
    const manifest = JSON.parse(inputs.job) as K.V1Job;
    const started = Date.now();
    const waitMs = inputs.deadlineMs + CONTROLLER_GRACE_MS;

    const fail = (outcome: string, cause: ReturnType<typeof stopCause>, details: string[], output: string): never => {
        throw new MigrationFailedError(
            cause,
            failureReport({
                environment: inputs.environment,
                version: inputs.version,
                trigger: inputs.trigger,
                outcome,
                elapsedMs: Date.now() - started,
                lockTimeoutMs: inputs.lockTimeoutMs,
                statementTimeoutMs: inputs.statementTimeoutMs,
                deadlineMs: inputs.deadlineMs,
                cause,
                details,
                output,
                outputLabel: `logs of the Job's pods (last ${LOG_TAIL_LINES} lines each)`,
            }),
        );
    };

    try {
        await batch.createNamespacedJob({ namespace, body: { ...manifest, metadata: { ...manifest.metadata, name, namespace } } });
    } catch (err) {
        fail(`the migration Job ${namespace}/${name} could not be created (${apiMessage(err)})`, "not-started", [], "");
    }

    let errors = 0;
    let state: JobState = { state: "running" };
    while (state.state === "running") {
        if (Date.now() - started > waitMs) break;
        await sleep(POLL_MS);
        try {
            state = jobState((await batch.readNamespacedJob({ name, namespace })).status);
            errors = 0;
        } catch (err) {
            errors += 1;
            if (errors >= API_ERRORS_TOLERATED) {
                fail(
                    `the migration Job ${namespace}/${name} could not be read ${errors} times in a row (last: ${apiMessage(err)}); it may still be running`,
                    "not-started",
                    [],
                    "",
                );
            }
        }
    }

    const pods = await podViews(core, namespace, name);
    const output = podLogs(pods);
    if (state.state === "complete") {
        return { jobName: name, elapsedMs: Date.now() - started, output };
    }
    const events = await jobEvents(core, namespace, name);
    if (state.state === "failed") {
        const deadline = state.reason === "DeadlineExceeded";
        fail(
            `the migration Job ${namespace}/${name} failed: ${state.reason}${state.message ? `: ${state.message}` : ""}`,
            stopCause(output, deadline),
            jobDetails(pods, events),
            output,
        );
    }
    // Neither complete nor failed well past its deadline: the Job controller is not acting on
    // it. Delete it, so it cannot start migrating later, behind the next attempt's back.
    let deleted = "deleted it";
    try {
        await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" });
    } catch (err) {
        deleted = `could not delete it (${apiMessage(err)}); delete it by hand: kubectl delete job -n ${namespace} ${name}`;
    }
    return fail(
        `the migration Job ${namespace}/${name} neither completed nor failed within ${Math.round(waitMs / 1000)} s (its deadline plus ${CONTROLLER_GRACE_MS / 1000} s for the Job controller); the gate ${deleted}`,
        stopCause(output, true),
        jobDetails(pods, events),
        output,
    );
}

async function podViews(core: K.CoreV1Api, namespace: string, job: string): Promise<PodView[]> {
    let pods: K.V1Pod[];
    try {
        pods = (await core.listNamespacedPod({ namespace, labelSelector: `job-name=${job}` })).items;
    } catch (err) {
        return [{ name: "(pods)", phase: "unknown", container: `not listed: ${apiMessage(err)}`, log: undefined, logError: apiMessage(err) }];
    }
    const views: PodView[] = [];
    for (const pod of pods) {
        const name = pod.metadata?.name ?? "?";
        const status = pod.status?.containerStatuses?.find((c) => c.name === "migrate");
        const term = status?.state?.terminated;
        const wait = status?.state?.waiting;
        const container = term
            ? `terminated: ${term.reason ?? "?"} (exit ${term.exitCode})${term.message ? `: ${term.message}` : ""}`
            : wait
              ? `waiting: ${wait.reason ?? "?"}${wait.message ? `: ${wait.message}` : ""}`
              : status?.state?.running
                ? "running"
                : "not started";
        let log: string | undefined;
        let logError: string | undefined;
        try {
            log = await core.readNamespacedPodLog({ name, namespace, container: "migrate", tailLines: LOG_TAIL_LINES });
        } catch (err) {
            logError = apiMessage(err);
        }
        views.push({ name, phase: pod.status?.phase ?? "Unknown", container, log, logError });
    }
    return views;
}

async function jobEvents(core: K.CoreV1Api, namespace: string, job: string): Promise<string[]> {
    try {
        const events = (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Job,involvedObject.name=${job}` })).items;
        return events.filter((e) => e.type === "Warning").map((e) => `${e.reason ?? "?"}: ${e.message ?? ""}`);
    } catch (err) {
        return [`(events not readable: ${apiMessage(err)})`];
    }
}
