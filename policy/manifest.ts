// Reading plain Kubernetes manifests as the policies see them: any field may be absent, of the
// wrong type, or UNKNOWN during preview. Every accessor says which, so a check can skip what it
// cannot see instead of guessing.
import { isUnknown, type Unknown, UNKNOWN } from "./unknown";

/** A manifest after `plain()`: `kind` is always set (from the Pulumi type when props lack it). */
export interface Manifest {
    readonly kind: string;
    readonly [field: string]: unknown;
}

/** The field at `path`, UNKNOWN if it or a parent is unknown, undefined if absent. */
export function get(obj: unknown, ...path: (string | number)[]): unknown {
    let cur = obj;
    for (const key of path) {
        if (isUnknown(cur)) return UNKNOWN;
        if (cur === null || typeof cur !== "object") return undefined;
        cur = (cur as Record<string, unknown>)[key];
    }
    return cur;
}

export function isObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** An array field, UNKNOWN, or [] when absent or not an array. */
export function list(value: unknown): unknown[] | Unknown {
    if (isUnknown(value)) return UNKNOWN;
    return Array.isArray(value) ? (value as unknown[]) : [];
}

/** A string-valued map such as labels; UNKNOWN when the map itself is unknown. */
export function stringMap(value: unknown): Record<string, string | Unknown> | Unknown {
    if (isUnknown(value)) return UNKNOWN;
    if (!isObject(value)) return {};
    const out: Record<string, string | Unknown> = {};
    for (const [k, v] of Object.entries(value)) {
        if (isUnknown(v)) out[k] = UNKNOWN;
        else if (typeof v === "string") out[k] = v;
    }
    return out;
}

/** Pulumi type token -> Kubernetes kind: `kubernetes:apps/v1:Deployment` -> `Deployment`. */
export function kindOf(pulumiType: string): string | undefined {
    const m = /^kubernetes:[^:]+:([A-Za-z0-9]+)$/.exec(pulumiType);
    return m ? m[1] : undefined;
}

/** Resource props as a manifest of the kind its Pulumi type names. */
export function asManifest(pulumiType: string, props: unknown): Manifest | undefined {
    const kind = kindOf(pulumiType);
    if (kind === undefined) return undefined;
    return { ...(isObject(props) ? props : {}), kind };
}

/** `Kind namespace/name` for messages; parts the preview cannot know yet are left out. */
export function subject(m: Manifest): string {
    const name = get(m, "metadata", "name");
    const ns = get(m, "metadata", "namespace");
    const shownName = typeof name === "string" ? name : "(name known after apply)";
    return typeof ns === "string" && ns !== "" ? `${m.kind} ${ns}/${shownName}` : `${m.kind} ${shownName}`;
}

/** Where each workload kind keeps its pod spec. */
const POD_SPEC_PATH: Readonly<Record<string, readonly string[]>> = {
    Deployment: ["spec", "template", "spec"],
    StatefulSet: ["spec", "template", "spec"],
    DaemonSet: ["spec", "template", "spec"],
    ReplicaSet: ["spec", "template", "spec"],
    ReplicationController: ["spec", "template", "spec"],
    Job: ["spec", "template", "spec"],
    CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
    Pod: ["spec"],
};
export const WORKLOAD_KINDS: readonly string[] = Object.keys(POD_SPEC_PATH);
/** Workloads that keep pods running (probes matter), as opposed to run-to-completion Jobs. */
export const LONG_RUNNING_KINDS: readonly string[] = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod"];
/** Workloads with a replica count. */
export const REPLICATED_KINDS: readonly string[] = ["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"];

/** Where a workload kind keeps its pod spec, or undefined for a non-workload. */
export function podSpecPath(kind: string): readonly string[] | undefined {
    return POD_SPEC_PATH[kind];
}

/** The pod spec of a workload, UNKNOWN, or undefined for a non-workload. */
export function podSpec(m: Manifest): unknown {
    const path = POD_SPEC_PATH[m.kind];
    return path === undefined ? undefined : get(m, ...path);
}

/** The pod template's labels (a Pod's own labels), for selector matching. */
export function podLabels(m: Manifest): Record<string, string | Unknown> | Unknown {
    const path = POD_SPEC_PATH[m.kind];
    if (path === undefined) return {};
    return stringMap(get(m, ...path.slice(0, -1), "metadata", "labels"));
}

export interface ContainerRef {
    /** `containers`, `initContainers` or `ephemeralContainers`. */
    readonly field: string;
    /** The container's name, as shown in messages. */
    readonly label: string;
    readonly container: unknown;
}

/**
 * Every container of a pod spec. Unknown container lists are skipped (nothing to judge yet);
 * `which` narrows to app containers where init containers do not apply (probes).
 */
export function containersOf(spec: unknown, which: readonly string[] = ["initContainers", "containers", "ephemeralContainers"]): ContainerRef[] {
    const out: ContainerRef[] = [];
    for (const field of which) {
        const items = list(get(spec, field));
        if (isUnknown(items)) continue;
        items.forEach((container, i) => {
            const name = get(container, "name");
            const shown = typeof name === "string" ? `"${name}"` : `#${i}`;
            out.push({ field, label: field === "containers" ? `container ${shown}` : `${field.replace(/s$/, "").replace(/C/, " c")} ${shown}`, container });
        });
    }
    return out;
}
