// The logic of the LiveSwitch dynamic provider (components/liveSwitch.ts only loads this file and
// delegates). It runs after the candidate's checks passed on the preview route:
//   1. read the digest the target revision's ready pods ran (all must agree);
//   2. point the live Service's selector at the target revision (server-side apply, its own
//      field manager), and wait until the Service's endpoints are that revision's pods;
//   3. run a short check on the live route; when it fails, point the selector back and fail;
//   4. after a short drain, scale the revision that was live down to its warm count (the rollback
//      target) and remove older revisions' objects;
//   5. record the target in the environment's verified history (its own state).
// A failed step throws; the previous outputs stay, so the next `up` tries again.
import { runSmoke } from "../smoke/engine";
import { formatReport } from "../smoke/format";
import { commandEnv, runCommand } from "../proc/run";
import { checksFromInputs } from "../smoke/checks";
import { LIVE_CHECK_DEFAULTS, SMOKE_DEFAULTS } from "../smoke/limits";
import { canonicalJson } from "../promotion/digest";
import { APPLY_PATCH, type KubeApi, kubeApi, labelSelector, MERGE_PATCH } from "../kube/api";
import { APP_NAME_LABEL, REVISION_LABEL } from "../kube/labels";
import { type HistoryEntry, nextHistory, planSwitch, type PodView, ranDigest, revisionsToRemove } from "./revisions";

/** The field manager that owns the live Service's selector. */
export const FIELD_MANAGER = "env-progression-live-switch";

/** The check on the live route right after the switch: one pass of the same checks, or the command. */
export interface LiveCheck {
    readonly baseUrl: string;
    /** HTTP mode: the checks as JSON (the SmokeTest's own). */
    readonly checks?: string;
    readonly timeoutMs?: number;
    readonly intervalMs?: number;
    readonly headers?: Record<string, string>;
    readonly caPem?: string;
    /** Command mode: the command, run with SMOKE_BASE_URL set to the live route. */
    readonly command?: string;
    readonly cwd?: string;
    readonly deadlineMs: number;
}

export interface SwitchInputs {
    readonly kubeconfig: string;
    readonly context: string;
    readonly namespace: string;
    /** The live Service. */
    readonly service: string;
    /** The app's selector labels, without the revision. */
    readonly selector: Record<string, string>;
    /** The candidate revision the program rendered (its checks passed). */
    readonly revision: string;
    /** Hold the environment on this revision of its own history (rollbackTo). @default - the candidate */
    readonly pin?: string;
    readonly replicas: number;
    /** Pods the previous revision keeps, ready to take traffic back. */
    readonly warmReplicas: number;
    readonly historyLimit: number;
    readonly check: LiveCheck;
    /** The smoke run's outcome that verified the candidate: the body of its history entry. */
    readonly outcome: Record<string, unknown>;
}

export interface SwitchOutputs extends Omit<SwitchInputs, "kubeconfig" | "check"> {
    /** The revision the live Service selects. */
    readonly live: string;
    /** The rollback target, kept warm, or null. */
    readonly previous: string | null;
    readonly ranDigest: string | null;
    readonly switchedAt: string;
    /** Milliseconds from the selector patch to the live check's pass (0 when nothing switched). */
    readonly switchMs: number;
    /** The environment's verified revisions, newest (the live one) first. */
    readonly history: HistoryEntry[];
    /** The check's settings without secrets, so a change shows in the diff. */
    readonly checkBaseUrl: string;
}

/** A failed switch; the message says where live traffic is. */
export class SwitchFailedError extends Error {
    override name = "SwitchFailedError";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PodList {
    items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; imageID?: string }[] } }[];
}

export async function revisionPods(api: KubeApi, namespace: string, selector: Record<string, string>, revision: string): Promise<PodView[]> {
    const list = await api.request<PodList>("GET", `/api/v1/namespaces/${namespace}/pods?${labelSelector({ ...selector, [REVISION_LABEL]: revision })}`);
    return list.items.map((p) => ({
        name: p.metadata.name,
        ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
        imageID: p.status?.containerStatuses?.find((c) => c.name === "app")?.imageID ?? "",
    }));
}

/** The revision the live Service selects now, or null. */
export async function liveRevision(api: KubeApi, namespace: string, service: string): Promise<string | null> {
    const svc = await api.request<{ spec?: { selector?: Record<string, string> } }>("GET", `/api/v1/namespaces/${namespace}/services/${service}`);
    return svc.spec?.selector?.[REVISION_LABEL] ?? null;
}

/** Points the live Service at `revision` (or at nothing, for null): the switch itself. */
export async function pointService(api: KubeApi, namespace: string, service: string, selector: Record<string, string> | null): Promise<void> {
    await api.request("PATCH", `/api/v1/namespaces/${namespace}/services/${service}?fieldManager=${FIELD_MANAGER}&force=true`, {
        contentType: APPLY_PATCH,
        body: { apiVersion: "v1", kind: "Service", metadata: { name: service, namespace }, spec: selector ? { selector } : {} },
    });
}

/**
 * Waits until every ready endpoint of the Service is a pod of the Deployment `deployment` (its pods
 * are named `<deployment>-<hash>-<suffix>`, also those that start while it waits), and at least
 * one is.
 */
export async function awaitEndpoints(api: KubeApi, namespace: string, service: string, deployment: string, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const slices = await api.request<{ items: { endpoints?: { targetRef?: { name?: string }; conditions?: { ready?: boolean } }[] }[] }>(
            "GET",
            `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?${labelSelector({ "kubernetes.io/service-name": service })}`,
        );
        const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
        if (ready.length > 0 && ready.every((e) => (e.targetRef?.name ?? "").startsWith(`${deployment}-`))) return true;
        if (Date.now() >= until) return false;
        await sleep(100);
    }
}

export async function scaleRevision(api: KubeApi, namespace: string, deployment: string, replicas: number): Promise<void> {
    await api.request("PATCH", `/apis/apps/v1/namespaces/${namespace}/deployments/${deployment}/scale`, { contentType: MERGE_PATCH, body: { spec: { replicas } } });
}

/** Waits until `revision` has at least `count` ready pods. */
export async function awaitReady(api: KubeApi, namespace: string, selector: Record<string, string>, revision: string, count: number, timeoutMs: number): Promise<PodView[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const pods = await revisionPods(api, namespace, selector, revision);
        if (pods.filter((p) => p.ready).length >= count) return pods;
        if (Date.now() >= until) return pods;
        await sleep(200);
    }
}

/** Runs the live check once; returns the failure report, or undefined when it passed. */
export async function liveCheckFails(check: LiveCheck): Promise<string | undefined> {
    if (check.command !== undefined) {
        const result = await runCommand(check.command, { cwd: check.cwd ?? process.cwd(), env: commandEnv({ SMOKE_BASE_URL: check.baseUrl }), timeoutMs: check.deadlineMs });
        if (result.timedOut) return `\`${check.command}\` was killed at the deadline\n${result.output}`;
        return result.code === 0 ? undefined : `\`${check.command}\` exited with status ${String(result.code)}\n${result.output}`;
    }
    const report = await runSmoke(check.baseUrl, checksFromInputs(check.checks ?? "[]"), {
        timeoutMs: check.timeoutMs ?? SMOKE_DEFAULTS.timeoutMs,
        deadlineMs: check.deadlineMs,
        intervalMs: check.intervalMs ?? LIVE_CHECK_DEFAULTS.intervalMs,
        consecutivePasses: LIVE_CHECK_DEFAULTS.consecutivePasses,
        ...(check.headers && Object.keys(check.headers).length > 0 ? { headers: check.headers } : {}),
        ...(check.caPem ? { caPem: check.caPem } : {}),
    });
    return report.ok ? undefined : formatReport(report);
}

/** Removes the objects of revisions no longer kept: their Deployments, ConfigMaps and Secrets. */
async function removeRevisions(api: KubeApi, namespace: string, selector: Record<string, string>, keep: readonly string[]): Promise<string[]> {
    const kinds = [`/apis/apps/v1/namespaces/${namespace}/deployments`, `/api/v1/namespaces/${namespace}/configmaps`, `/api/v1/namespaces/${namespace}/secrets`];
    const found: { path: string; name: string; revision: string }[] = [];
    for (const path of kinds) {
        const list = await api.request<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>("GET", `${path}?${labelSelector(selector)}`);
        for (const o of list.items) {
            const revision = o.metadata.labels?.[REVISION_LABEL];
            if (revision) found.push({ path, name: o.metadata.name, revision });
        }
    }
    const gone = revisionsToRemove(
        found.map((f) => f.revision),
        keep,
    );
    for (const f of found.filter((x) => gone.includes(x.revision))) {
        await api.request("DELETE", `${f.path}/${f.name}`, { body: { propagationPolicy: "Background" } }).catch((e: unknown) => {
            if ((e as { status?: number }).status !== 404) throw e;
        });
    }
    return gone;
}

export const deploymentName = (selector: Record<string, string>, revision: string) => `${selector[APP_NAME_LABEL]}-${revision}`;

async function run(inputs: SwitchInputs, olds: Partial<SwitchOutputs> | undefined): Promise<SwitchOutputs> {
    const api = kubeApi(inputs.kubeconfig, inputs.context);
    const { namespace, service, selector } = inputs;
    const history = olds?.history ?? [];
    const live = await liveRevision(api, namespace, service);
    const plan = planSwitch({ live, recorded: olds?.live ?? null, candidate: inputs.revision, pin: inputs.pin, previous: olds?.previous ?? null });
    const pinned = inputs.pin !== undefined ? history.find((h) => h.revision === inputs.pin) : undefined;
    if (inputs.pin !== undefined && pinned === undefined) {
        throw new SwitchFailedError(
            `rollbackTo ${inputs.pin} is not a revision this environment verified; its verified history: ${history.map((h) => h.revision).join(", ") || "(empty)"}. ` +
                `Live traffic stays on ${live ?? "nothing"}. Fix: pulumi config set rollbackTo <one of those> -s <stack>, or pulumi config rm rollbackTo`,
        );
    }

    // A pinned revision that was scaled down (or removed) comes back at full size first.
    if (inputs.pin !== undefined) {
        const name = deploymentName(selector, plan.target);
        await scaleRevision(api, namespace, name, inputs.replicas).catch((e: unknown) => {
            throw new SwitchFailedError(`rollbackTo ${plan.target}: its Deployment ${name} cannot be scaled (${(e as Error).message}); it was removed. Fix: set the image and config it ran, and pulumi up`);
        });
    }
    const pods = await awaitReady(api, namespace, selector, plan.target, Math.min(inputs.warmReplicas, inputs.replicas), 60_000);
    const ran = ranDigest(pods);
    if (ran.problem !== undefined) {
        throw new SwitchFailedError(`revision ${plan.target} cannot go live: ${ran.problem}. Live traffic stays on ${live ?? "nothing"}.`);
    }

    let switchMs = 0;
    if (plan.switches) {
        const t0 = Date.now();
        await pointService(api, namespace, service, { ...selector, [REVISION_LABEL]: plan.target });
        const moved = await awaitEndpoints(api, namespace, service, deploymentName(selector, plan.target), 15_000);
        const failure = moved ? await liveCheckFails(inputs.check) : "the Service's endpoints did not move to the new revision's pods within 15 s";
        if (failure !== undefined) {
            await pointService(api, namespace, service, live ? { ...selector, [REVISION_LABEL]: live } : null);
            throw new SwitchFailedError(
                `the live check failed right after revision ${plan.target} went live at ${inputs.check.baseUrl}; ` +
                    `the live Service was switched back to ${live ?? "no revision (this was the first)"}. Revision ${plan.target} keeps running for inspection.\n${failure}`,
            );
        }
        switchMs = Date.now() - t0;
    } else {
        const failure = await liveCheckFails(inputs.check);
        if (failure !== undefined) throw new SwitchFailedError(`the live check of revision ${plan.target} failed at ${inputs.check.baseUrl}:\n${failure}`);
    }

    // The revision that was live gets no new connection through the Service once its endpoints
    // moved; a pod it scales away keeps serving through its preStop pause (components/app.ts)
    // while every node's kube-proxy catches up, so nothing in flight is refused.
    if (plan.previous !== null && plan.switches) {
        await scaleRevision(api, namespace, deploymentName(selector, plan.previous), Math.min(inputs.warmReplicas, inputs.replicas)).catch(() => undefined);
    }
    // The program's candidate, when the stack is held on another revision, waits warm too.
    if (inputs.pin !== undefined && inputs.revision !== plan.target) {
        await scaleRevision(api, namespace, deploymentName(selector, inputs.revision), Math.min(inputs.warmReplicas, inputs.replicas)).catch(() => undefined);
    }
    await removeRevisions(api, namespace, selector, plan.keep);

    const switchedAt = new Date().toISOString();
    const entry: HistoryEntry = pinned
        ? { ...pinned, ranDigest: ran.digest }
        : { revision: plan.target, ranDigest: ran.digest, switchedAt: plan.switches ? switchedAt : (history.find((h) => h.revision === plan.target)?.switchedAt ?? switchedAt), outcome: inputs.outcome };
    const { kubeconfig: _k, check, ...kept } = inputs;
    return {
        ...kept,
        checkBaseUrl: check.baseUrl,
        live: plan.target,
        previous: plan.previous,
        ranDigest: ran.digest,
        switchedAt: entry.switchedAt,
        switchMs,
        history: nextHistory(history, entry, inputs.historyLimit),
    };
}

export async function switchCreate(inputs: SwitchInputs): Promise<{ id: string; outs: SwitchOutputs }> {
    const outs = await run(inputs, undefined);
    return { id: `${inputs.namespace}/${inputs.service}`, outs };
}

export async function switchUpdate(_id: string, olds: SwitchOutputs, news: SwitchInputs): Promise<{ outs: SwitchOutputs }> {
    return { outs: await run(news, olds) };
}

/** The inputs whose change runs the switch again (the kubeconfig's contents are where, not what). */
const FIELDS = ["namespace", "service", "revision", "pin", "replicas", "warmReplicas", "historyLimit"] as const;

export function switchDiff(_id: string, olds: Partial<SwitchOutputs>, news: SwitchInputs): { changes: boolean; replaces: string[] } {
    const changed = FIELDS.some((k) => olds[k] !== news[k]);
    const outcomeChanged = canonicalJson(olds.outcome ?? null) !== canonicalJson(news.outcome ?? null);
    return { changes: changed || outcomeChanged || olds.checkBaseUrl !== news.check.baseUrl || olds.live === undefined, replaces: [] };
}

/** The provider's methods, as components/serializedProvider.ts loads them. */
export const logic = { create: switchCreate, update: switchUpdate, diff: switchDiff };
