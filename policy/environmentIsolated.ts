// environment-isolated: what the stack's NetworkPolicies mean together, judged by the shared
// evaluator (netpol/), never by selector logic of the pack's own. Two models:
//   - the stack as it is: its environment namespace, kube-system's DNS, the ingress controller and
//     an attacker namespace copying the environment's labels (spoof, DNS, ingress findings);
//   - the stack plus the other environments, modelled as namespaces `peer-<env>` that copy this
//     environment's namespace and pod labels with `environment=<env>` (worst case: a selector on any
//     shared label admits them). Only cross-environment findings touching this stack are kept:
//     the peers' own policies are not in this stack, so paths between two peers mean nothing here.
import { ENVIRONMENTS } from "../config/environments";
import { ENVIRONMENT_LABEL } from "../kube/labels";
import { checkIsolation, DEFAULT_INGRESS_NAMESPACE, type Finding, isolationModelFromManifests, ManifestError, ModelError, PolicyValidationError } from "../netpol";
import { NotApplicable, type StackCheck, type StackViolation } from "./define";
import { get, isObject, type Manifest, podLabels, podSpecPath, stringMap, WORKLOAD_KINDS } from "./manifest";
import { containsUnknown, isUnknown, UNKNOWN } from "./unknown";

export interface IsolationConfig {
    /** Namespace of the ingress controller that must reach the app. @default - stack config ingressNamespace, then ingress-nginx */
    readonly ingressNamespace: string;
}

const MODELLED = new Set(["Namespace", "NetworkPolicy", "Service", ...WORKLOAD_KINDS]);
const PEER_PREFIX = "peer-";

/** Whether the containers' ports (the model's only reading of them, for named target ports) are unknown. */
function containerPortsUnknown(m: Manifest): boolean {
    const containers = get(m, "spec", "template", "spec", "containers");
    if (!Array.isArray(containers)) return containsUnknown(containers);
    return containers.some((c) => !isObject(c) || containsUnknown(c["name"]) || containsUnknown(c["ports"]));
}

/** The fields the model reads, per kind; an unknown among them makes the model unsound. */
function unknownWhereItMatters(m: Manifest): boolean {
    if (containsUnknown(get(m, "metadata", "name")) || containsUnknown(get(m, "metadata", "namespace"))) return true;
    switch (m.kind) {
        case "Namespace":
            return containsUnknown(get(m, "metadata", "labels"));
        case "NetworkPolicy":
            return containsUnknown(get(m, "spec"));
        case "Service":
            return containsUnknown(get(m, "spec", "selector")) || containsUnknown(get(m, "spec", "ports"));
        default:
            return containsUnknown(podLabels(m)) || containerPortsUnknown(m);
    }
}

/** A copy without UNKNOWN markers (only in fields the model never reads, see above). */
function known(value: unknown): unknown {
    if (Array.isArray(value)) return value.filter((v) => !isUnknown(v)).map(known);
    if (!isObject(value)) return value;
    return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (v === UNKNOWN ? [] : [[k, known(v)]])));
}

/** `m` moved into `namespace`, with `environment=<env>` wherever it carried the label. */
function asPeer(m: Manifest, namespace: string, environment: string): Manifest {
    const copy = structuredClone(m) as Record<string, unknown> & Manifest;
    const relabel = (labels: unknown) => {
        if (isObject(labels) && ENVIRONMENT_LABEL in labels) labels[ENVIRONMENT_LABEL] = environment;
    };
    const meta = copy["metadata"] as Record<string, unknown>;
    if (m.kind === "Namespace") {
        meta["name"] = namespace;
        meta["labels"] = { ...(isObject(meta["labels"]) ? meta["labels"] : {}), [ENVIRONMENT_LABEL]: environment };
    } else {
        meta["namespace"] = namespace;
        relabel(meta["labels"]);
        relabel(get(copy, "spec", "template", "metadata", "labels"));
    }
    return copy;
}

function describeError(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}

/** Every label key a NetworkPolicy selects pods or namespaces by. */
function selectedKeys(policies: readonly Manifest[]): Set<string> | undefined {
    const keys = new Set<string>();
    const walk = (v: unknown): boolean => {
        if (isUnknown(v)) return false;
        if (Array.isArray(v)) return v.every(walk);
        if (!isObject(v)) return true;
        for (const [k, x] of Object.entries(v)) {
            if ((k === "podSelector" || k === "namespaceSelector") && isObject(x)) {
                const ml = x["matchLabels"];
                if (isObject(ml)) Object.keys(ml).forEach((key) => keys.add(key));
                const me = x["matchExpressions"];
                if (Array.isArray(me)) for (const e of me) if (isObject(e) && typeof e["key"] === "string") keys.add(e["key"]);
                if (isUnknown(ml) || isUnknown(me)) return false;
            }
            if (!walk(x)) return false;
        }
        return true;
    };
    return policies.every((p) => walk(get(p, "spec"))) ? keys : undefined;
}

/** A deep copy that keeps UNKNOWN markers (structuredClone cannot copy a symbol). */
function deepCopy(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(deepCopy);
    return isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepCopy(x)])) : v;
}

/** What an unknown value stands for below: the same text wherever the same key is unknown. */
const PENDING = "pending-at-preview";

/**
 * A preview of a new stack does not know a value derived from what the update creates, such as
 * a revision id in a workload's name and in its pods' labels. No NetworkPolicy can select by a
 * key none of them names, and a name only identifies: such unknowns become placeholders (unknown
 * values of one key read as equal, as a Service's unknown revision selects the pods of the same
 * unknown revision), and isolation is judged on the rest. An unknown any policy could see stays.
 */
function withPlaceholders(resources: readonly { manifest: Manifest; urn?: string }[]): { manifest: Manifest; urn?: string }[] {
    const keys = selectedKeys(resources.map((r) => r.manifest).filter((m) => m.kind === "NetworkPolicy"));
    if (keys === undefined) return [...resources];
    const labels = (v: unknown) => {
        if (!isObject(v)) return;
        for (const [k, x] of Object.entries(v)) if (isUnknown(x) && !keys.has(k)) v[k] = PENDING;
    };
    return resources.map((r, i) => {
        if (r.manifest.kind === "Namespace" || r.manifest.kind === "NetworkPolicy") return r;
        const m = deepCopy(r.manifest) as Record<string, unknown> & Manifest;
        const meta = m["metadata"] as Record<string, unknown> | undefined;
        if (meta && isUnknown(meta["name"])) meta["name"] = `${PENDING}-${i}`;
        labels(meta?.["labels"]);
        if (m.kind === "Service") labels(get(m, "spec", "selector"));
        else {
            // The pod template's own labels object (podLabels would hand back a copy).
            const spec = podSpecPath(m.kind);
            if (spec) labels(get(m, ...spec.slice(0, -1), "metadata", "labels"));
            labels(get(m, "spec", "selector", "matchLabels"));
        }
        return { ...r, manifest: m };
    });
}

/** Violations of environment isolation for the stack's manifests. */
export function isolationProblems(resources: readonly { manifest: Manifest; urn?: string }[], ingressNamespace: string): StackViolation[] {
    const mine = withPlaceholders(resources.filter((r) => MODELLED.has(r.manifest.kind)));
    if (mine.some((r) => unknownWhereItMatters(r.manifest))) {
        throw new NotApplicable("names, labels or NetworkPolicy specs are not known until the update; isolation is judged when they are");
    }
    const envNamespaces = new Map<string, { environment: string; urn: string | undefined; manifest: Manifest }>();
    for (const r of mine) {
        const labels = stringMap(get(r.manifest, "metadata", "labels"));
        const name = get(r.manifest, "metadata", "name");
        const env = isUnknown(labels) ? undefined : labels[ENVIRONMENT_LABEL];
        if (r.manifest.kind === "Namespace" && typeof name === "string" && typeof env === "string")
            envNamespaces.set(name, { environment: env, urn: r.urn, manifest: r.manifest });
    }
    if (envNamespaces.size === 0) {
        throw new NotApplicable(`the stack has no Namespace labelled ${ENVIRONMENT_LABEL}; namespace-labels reports that`);
    }
    const manifests = mine.map((r) => known(r.manifest) as Manifest);

    // The other environments, each a copy of this stack's environment namespace and its workloads.
    const present = new Set([...envNamespaces.values()].map((n) => n.environment));
    const [ownNs, own] = [...envNamespaces][0]!;
    const peers = ENVIRONMENTS.filter((e) => !present.has(e)).flatMap((env) => {
        const ns = `${PEER_PREFIX}${env}`;
        const workloads = manifests.filter((m) => WORKLOAD_KINDS.includes(m.kind) && get(m, "metadata", "namespace") === ownNs);
        return [asPeer(known(own.manifest) as Manifest, ns, env), ...workloads.map((w) => asPeer(w, ns, env))];
    });

    const urnOf = (endpoint: string) => envNamespaces.get(endpoint.split("/")[0] ?? "")?.urn;
    const envOf = (endpoint: string) => envNamespaces.get(endpoint.split("/")[0] ?? "")?.environment;
    const toViolation = (f: Finding): StackViolation => {
        const at = urnOf(f.to) !== undefined ? f.to : f.from;
        const urn = urnOf(at);
        return { message: `Environment ${envOf(at) ?? "?"} is not isolated: ${f.message}`, ...(urn !== undefined ? { urn } : {}) };
    };

    try {
        const alone = isolationModelFromManifests(manifests, { ingressNamespace });
        const findings = [...checkIsolation(alone.model, alone.policies).findings];
        if (peers.length > 0) {
            const together = isolationModelFromManifests([...manifests, ...peers], { ingressNamespace });
            const cross = checkIsolation(together.model, together.policies).findings.filter(
                (f) => f.kind === "cross-environment" && (urnOf(f.from) !== undefined || urnOf(f.to) !== undefined),
            );
            findings.push(...cross);
        }
        // The evaluator reports each pod pair; one violation per kind and pair of namespaces reads
        // better, the other pod pairs listed after the first one's explanation.
        const groups = new Map<string, Finding[]>();
        for (const f of findings) {
            const key = `${f.kind}|${f.from.split("/")[0]}|${f.to.split("/")[0]}`;
            const group = groups.get(key) ?? [];
            if (!group.some((g) => g.message === f.message)) group.push(f);
            groups.set(key, group);
        }
        return [...groups.values()].map(([first, ...rest]) => {
            const v = toViolation(first!);
            return rest.length === 0 ? v : { ...v, message: `${v.message} Same for: ${rest.map((f) => `${f.from} -> ${f.to}`).join(", ")}.` };
        });
    } catch (err) {
        if (err instanceof ManifestError) throw new NotApplicable(describeError(err));
        if (err instanceof PolicyValidationError || err instanceof ModelError) {
            const urn = [...envNamespaces.values()][0]?.urn;
            return [{ message: `The NetworkPolicies of this stack cannot be evaluated: ${describeError(err)}`, ...(urn !== undefined ? { urn } : {}) }];
        }
        throw err;
    }
}

export const environmentIsolated: StackCheck<IsolationConfig> = {
    name: "environment-isolated",
    description:
        "The stack's NetworkPolicies, judged by the project's NetworkPolicy evaluator, isolate its environment: no path to or from other environments " +
        `(modelled as ${PEER_PREFIX}<env> namespaces with this one's labels) or from a namespace copying its labels, while DNS and the ingress controller still get through.`,
    configSchema: {
        ingressNamespace: { type: "string", description: "The ingress controller's namespace. @default - stack config ingressNamespace, then ingress-nginx" },
    },
    check: (resources, _environment, config, ctx) =>
        isolationProblems(
            resources.flatMap((r) => (r.manifest ? [{ manifest: r.manifest, urn: r.urn }] : [])),
            config.ingressNamespace ?? ctx.ingressNamespace ?? DEFAULT_INGRESS_NAMESPACE,
        ),
};
