// Job mode: run the migration as a Kubernetes Job, wait for it to complete or fail, and on failure
// read what Kubernetes knows (the Job's condition, its pods' states and logs, its events) into
// the report.
//
// The provider creates the Job itself rather than registering a `kubernetes:batch/v1:Job`: a
// failed Job stays failed, and the engine would keep that object as "created", so the next `up`
// could never retry. Each attempt is a Job named `<prefix>-<n>`: the prefix comes from the app and
// the trigger (what is migrated), n counts the attempts. Never two migrations at once:
//   - a Job of this trigger still running (an `up` killed while it ran) is adopted and waited for,
//     and one that completed counts as this run's success;
//   - a Job of another trigger still running is waited for before this one starts;
//   - two runners that create the same attempt at once get one Job: the second's create is
//     refused by the API server (409), and it adopts the Job.
// A finished Job is left for `kubectl logs` until ttlSecondsAfterFinished removes it.
//
// Every API call has a timeout (kube/api.ts, API_TIMEOUT_MS), and so does the whole wait.
import type { EnvironmentName } from "../config/environments";
import { type KubeApi, KubeApiError, kubeApi, labelSelector } from "../kube/api";
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
    /** Name stem; each attempt appends "-<n>". */
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

/** Timings; tests shorten them. */
export interface JobTimings {
    /** How often the Job is read. @default 1000 */
    readonly pollMs: number;
    /** Each API call's whole answer must arrive within this. @default API_TIMEOUT_MS */
    readonly apiTimeoutMs: number;
    /** After activeDeadlineSeconds, how long the Job controller gets to mark the Job failed. @default 60000 */
    readonly controllerGraceMs: number;
}

/** One API call's limit on the Job path: a request, a list, a pod's log. */
export const API_TIMEOUT_MS = 15_000;
const DEFAULT_TIMINGS: JobTimings = { pollMs: 1000, apiTimeoutMs: API_TIMEOUT_MS, controllerGraceMs: 60_000 };
/** API errors in a row tolerated while waiting (an API server restart, a network blip). */
const API_ERRORS_TOLERATED = 30;
const LOG_TAIL_LINES = 400;
/** The annotation on the Job naming its trigger (components/migrationManifests.ts sets it). */
const TRIGGER_ANNOTATION = "progression.dev/migration-trigger";

/** The API server's message in an error from the client, not the whole response. */
export function apiMessage(err: unknown): string {
    if (err instanceof KubeApiError) return err.status === 0 ? err.message : `${err.status}: ${err.message.replace(/^\S+ \S+: \d+ /, "")}`;
    return err instanceof Error ? err.message : String(err);
}

/** A migration Job as the planner sees it. */
export interface JobSeen {
    readonly name: string;
    readonly trigger: string | undefined;
    readonly state: JobState["state"];
}

export type JobPlan =
    /** A Job of this trigger runs or completed: wait for it, or take its success. */
    | { readonly action: "adopt"; readonly name: string }
    /** A Job of another trigger still runs: wait for it to end, then plan again. */
    | { readonly action: "wait"; readonly name: string }
    /** Nothing runs: create this attempt. */
    | { readonly action: "create"; readonly name: string };

/** The next attempt's name: `<prefix>-<n>`, n one more than any attempt of this prefix seen. */
export function attemptName(prefix: string, seen: readonly JobSeen[]): string {
    const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)$`);
    const last = seen.reduce((n, j) => Math.max(n, Number(pattern.exec(j.name)?.[1] ?? 0)), 0);
    return `${prefix}-${last + 1}`;
}

/**
 * What to do given the migration Jobs of this app and environment: never start one while another
 * runs; adopt one of the same trigger that runs or completed (its migration is this one).
 */
export function planJob(seen: readonly JobSeen[], prefix: string, trigger: string): JobPlan {
    const mine = seen.filter((j) => j.trigger === trigger);
    const running = mine.find((j) => j.state === "running");
    if (running) return { action: "adopt", name: running.name };
    const other = seen.find((j) => j.trigger !== trigger && j.state === "running");
    if (other) return { action: "wait", name: other.name };
    const complete = mine.find((j) => j.state === "complete");
    if (complete) return { action: "adopt", name: complete.name };
    return { action: "create", name: attemptName(prefix, seen) };
}

interface JobObject {
    metadata?: { name?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
    status?: JobStatusView;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One function: create (or adopt) the Job, wait for it, and read its failure, with one client
// and one deadline.
export async function runMigrationJob(inputs: JobRunInputs, timings: Partial<JobTimings> = {}): Promise<JobRunResult> {
    const t = { ...DEFAULT_TIMINGS, ...timings };
    const api = kubeApi(inputs.kubeconfig, inputs.context);
    const call = <T>(method: string, apiPath: string, opts: { body?: unknown; text?: boolean } = {}) =>
        api.request<T>(method, apiPath, { ...opts, timeoutMs: t.apiTimeoutMs });
    const { namespace } = inputs;
    const jobs = `/apis/batch/v1/namespaces/${namespace}/jobs`;
    const manifest = JSON.parse(inputs.job) as JobObject & Record<string, unknown>;
    const selector = manifest.metadata?.labels ?? {};
    const started = Date.now();
    const waitMs = inputs.deadlineMs + t.controllerGraceMs;

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

    const seen = async (): Promise<JobSeen[]> => {
        const list = await call<{ items: JobObject[] }>("GET", `${jobs}?${labelSelector(selector)}`);
        return list.items.map((j) => ({
            name: j.metadata?.name ?? "",
            trigger: j.metadata?.annotations?.[TRIGGER_ANNOTATION],
            state: jobState(j.status).state,
        }));
    };

    /** Reads `name` until it is no longer running or the wait is over; tolerates API blips. */
    const awaitJob = async (name: string): Promise<JobState> => {
        let errors = 0;
        let state: JobState = { state: "running" };
        while (state.state === "running" && Date.now() - started <= waitMs) {
            try {
                state = jobState((await call<JobObject>("GET", `${jobs}/${name}`)).status);
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
            if (state.state === "running") await sleep(t.pollMs);
        }
        return state;
    };

    // Plan, waiting out a migration of another trigger first; a lost create race is adopted.
    let name: string | undefined;
    while (name === undefined) {
        let plan: JobPlan;
        try {
            plan = planJob(await seen(), inputs.jobNamePrefix, inputs.trigger);
        } catch (err) {
            return fail(`the migration Jobs in ${namespace} could not be listed (${apiMessage(err)})`, "not-started", [], "");
        }
        if (plan.action === "adopt") {
            name = plan.name;
        } else if (plan.action === "wait") {
            const other = await awaitJob(plan.name);
            if (other.state === "running") {
                fail(
                    `another migration Job, ${namespace}/${plan.name}, was still running after ${Math.round(waitMs / 1000)} s, and two migrations never run at once; ` +
                        `fix: let it finish, or delete it (kubectl delete job -n ${namespace} ${plan.name}), then run \`pulumi up\` again`,
                    "not-started",
                    [],
                    "",
                );
            }
        } else {
            try {
                await call("POST", jobs, { body: { ...manifest, metadata: { ...manifest.metadata, name: plan.name, namespace } } });
                name = plan.name;
            } catch (err) {
                // 409: another runner created this attempt a moment ago; the next plan adopts it.
                if (!(err instanceof KubeApiError && err.status === 409)) {
                    fail(`the migration Job ${namespace}/${plan.name} could not be created (${apiMessage(err)})`, "not-started", [], "");
                }
            }
        }
    }

    const state = await awaitJob(name);
    const pods = await podViews(call, namespace, name);
    const output = podLogs(pods);
    if (state.state === "complete") {
        return { jobName: name, elapsedMs: Date.now() - started, output };
    }
    const events = await jobEvents(call, namespace, name);
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
        await call("DELETE", `${jobs}/${name}`, { body: { propagationPolicy: "Background" } });
    } catch (err) {
        deleted = `could not delete it (${apiMessage(err)}); delete it by hand: kubectl delete job -n ${namespace} ${name}`;
    }
    return fail(
        `the migration Job ${namespace}/${name} neither completed nor failed within ${Math.round(waitMs / 1000)} s (its deadline plus ${t.controllerGraceMs / 1000} s for the Job controller); the gate ${deleted}`,
        stopCause(output, true),
        jobDetails(pods, events),
        output,
    );
}

type Call = KubeApi["request"];

interface PodObject {
    metadata?: { name?: string };
    status?: {
        phase?: string;
        containerStatuses?: {
            name: string;
            state?: {
                terminated?: { reason?: string; exitCode: number; message?: string };
                waiting?: { reason?: string; message?: string };
                running?: unknown;
            };
        }[];
    };
}

async function podViews(call: Call, namespace: string, job: string): Promise<PodView[]> {
    let pods: PodObject[];
    try {
        pods = (await call<{ items: PodObject[] }>("GET", `/api/v1/namespaces/${namespace}/pods?${labelSelector({ "job-name": job })}`)).items;
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
            log = await call<string>("GET", `/api/v1/namespaces/${namespace}/pods/${name}/log?container=migrate&tailLines=${LOG_TAIL_LINES}`, { text: true });
        } catch (err) {
            logError = apiMessage(err);
        }
        views.push({ name, phase: pod.status?.phase ?? "Unknown", container, log, logError });
    }
    return views;
}

async function jobEvents(call: Call, namespace: string, job: string): Promise<string[]> {
    try {
        const selector = encodeURIComponent(`involvedObject.kind=Job,involvedObject.name=${job}`);
        const events = (await call<{ items: { type?: string; reason?: string; message?: string }[] }>("GET", `/api/v1/namespaces/${namespace}/events?fieldSelector=${selector}`)).items;
        return events.filter((e) => e.type === "Warning").map((e) => `${e.reason ?? "?"}: ${e.message ?? ""}`);
    } catch (err) {
        return [`(events not readable: ${apiMessage(err)})`];
    }
}
