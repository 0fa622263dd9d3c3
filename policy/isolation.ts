// environment-isolated: what the stack's NetworkPolicies mean together, judged by the shared
// evaluator (netpol/), never by selector logic of the pack's own. Two models:
//   - the stack as it is: its environment namespace, kube-system's DNS, the ingress controller and
//     an attacker namespace copying the environment's labels (spoof, DNS, ingress findings);
//   - the stack plus the other environments, modelled as namespaces `peer-<env>` that copy this
//     environment's namespace and pod labels with `environment=<env>` (worst case: a selector on any
//     shared label admits them). Only cross-environment findings touching this stack are kept:
//     the peers' own policies are not in this stack, so paths between two peers mean nothing here.
import { ENVIRONMENTS } from "../config/environments";
import { ENVIRONMENT_LABEL } from "../components/labels";
import { checkIsolation, DEFAULT_INGRESS_NAMESPACE, type Finding, isolationModelFromManifests, ManifestError, ModelError, PolicyValidationError } from "../netpol";
import { NotApplicable, type StackCheck, type StackViolation } from "./define";
import { get, isObject, type Manifest, podLabels, stringMap, WORKLOAD_KINDS } from "./manifest";
import { containsUnknown, isUnknown, UNKNOWN } from "./unknown";

export interface IsolationConfig {
    /** Namespace of the ingress controller that must reach the app. @default - stack config ingressNamespace, then ingress-nginx */
    readonly ingressNamespace: string;
}

const MODELLED = new Set(["Namespace", "NetworkPolicy", "Service", ...WORKLOAD_KINDS]);
const PEER_PREFIX = "peer-";

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
            return containsUnknown(podLabels(m)) || containsUnknown(get(m, "spec", "template", "spec", "containers"));
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

/** Violations of environment isolation for the stack's manifests. */
export function isolationProblems(resources: readonly { manifest: Manifest; urn?: string }[], ingressNamespace: string): StackViolation[] {
    const mine = resources.filter((r) => MODELLED.has(r.manifest.kind));
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
