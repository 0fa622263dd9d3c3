// The evaluator: for a connection (source, destination, port, protocol), egress must be allowed
// at the source AND ingress at the destination. A pod is isolated for a direction iff some policy
// in its namespace selects it and lists that type; an isolated pod admits only what some rule of
// some selecting policy allows (policies only ever add allowances). Endpoints outside the cluster
// are never isolated: no policy can select them.
import { NAMESPACE_NAME_LABEL } from "../kube/labels";
import { cidrContains, parseIp } from "./cidr";
import { type CompiledPeer, type CompiledPolicies, type CompiledPolicy, type CompiledPort, type CompiledRule, compilePolicies } from "./policy";
import { createReach, type Reach } from "./reach";
import type {
    ClusterModel,
    ConnectivityMatrix,
    Direction,
    DirectionVerdict,
    Endpoint,
    Labels,
    MatrixCell,
    ModelEndpoint,
    Probe,
    Protocol,
    RuleRef,
    Verdict,
} from "./types";

export class ModelError extends Error {
    override name = "ModelError";
    constructor(readonly problems: readonly string[]) {
        super(`invalid cluster model:\n  - ${problems.join("\n  - ")}`);
    }
}

export interface ConnectionQuery {
    /** Endpoint id: `namespace/pod` or `external:name`. */
    readonly from: string;
    readonly to: string;
    readonly port: number;
    /** @default "TCP" */
    readonly protocol?: Protocol;
}

export interface MatrixOptions {
    /** Source endpoint ids. @default every endpoint */
    readonly from?: readonly string[];
    /** Destination endpoint ids. @default every endpoint */
    readonly to?: readonly string[];
    /**
     * Include a pod's traffic to itself. Whether policies apply to it is left to the network
     * plugin (the upstream e2e suite ignores loopback), so by default it is not judged.
     * @default false
     */
    readonly includeSelf?: boolean;
}

export interface Evaluator {
    readonly endpoints: readonly Endpoint[];
    readonly policies: CompiledPolicies;
    evaluate(query: ConnectionQuery): Verdict;
    matrix(probes: readonly Probe[], opts?: MatrixOptions): ConnectivityMatrix;
    /** The endpoints with what policies match on, in the model's order (pods, then externals). */
    readonly modelEndpoints: readonly ModelEndpoint[];
    /** Every endpoint pair at once, computed per policy: for judging large models. */
    reach(probes: readonly Probe[]): Reach;
}

function compileModel(model: ClusterModel): Map<string, ModelEndpoint> {
    const problems: string[] = [];
    const nsLabels = new Map<string, Labels>();
    for (const ns of model.namespaces) {
        if (nsLabels.has(ns.name)) problems.push(`namespace ${ns.name} is listed twice`);
        // The API server overwrites this label with the name, so the model does too.
        nsLabels.set(ns.name, { ...(ns.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns.name });
    }
    const endpoints = new Map<string, ModelEndpoint>();
    for (const pod of model.pods) {
        const id = `${pod.namespace}/${pod.name}`;
        const namespaceLabels = nsLabels.get(pod.namespace);
        const address = parseIp(pod.ip);
        if (!namespaceLabels) problems.push(`pod ${id}: namespace ${pod.namespace} is not in the model`);
        if (!address) problems.push(`pod ${id}: ip ${JSON.stringify(pod.ip)} is not an IPv4 or IPv6 address`);
        if (endpoints.has(id)) problems.push(`pod ${id} is listed twice`);
        if (namespaceLabels && address) {
            endpoints.set(id, {
                id,
                kind: "pod",
                namespace: pod.namespace,
                name: pod.name,
                ip: pod.ip,
                labels: pod.labels ?? {},
                namespaceLabels,
                address,
                containerPorts: pod.ports ?? [],
            });
        }
    }
    for (const ext of model.externals ?? []) {
        const id = `external:${ext.name}`;
        const address = parseIp(ext.ip);
        if (!address) problems.push(`external ${ext.name}: ip ${JSON.stringify(ext.ip)} is not an IPv4 or IPv6 address`);
        else endpoints.set(id, { id, kind: "external", name: ext.name, ip: ext.ip, labels: {}, namespaceLabels: {}, address, containerPorts: [] });
    }
    if (problems.length > 0) throw new ModelError(problems);
    return endpoints;
}

function peerMatches(peer: CompiledPeer, policy: CompiledPolicy, other: ModelEndpoint): boolean {
    if (peer.kind === "ipBlock") {
        // ipBlocks match pod IPs too, as the upstream e2e suite expects ("allow egress to a pod
        // by its /32"); whether a CNI sees pod IPs pre- or post-NAT is its own business.
        return cidrContains(peer.cidr, other.address) && !peer.except.some((c) => cidrContains(c, other.address));
    }
    if (other.kind !== "pod") return false;
    const nsOk = peer.namespaces === "own" ? other.namespace === policy.namespace : peer.namespaces.matches(other.namespaceLabels);
    return nsOk && peer.pods.matches(other.labels);
}

/** A named port means the destination pod's container port of that name, number AND protocol. */
function portMatches(port: CompiledPort, destination: ModelEndpoint, number: number, protocol: Protocol): boolean {
    if (port.protocol !== protocol) return false;
    if (port.name !== undefined) {
        const named = destination.containerPorts.find((cp) => cp.name === port.name);
        return named !== undefined && named.containerPort === number && (named.protocol ?? "TCP") === protocol;
    }
    if (port.port === undefined) return true;
    return port.endPort === undefined ? port.port === number : port.port <= number && number <= port.endPort;
}

function ruleMatches(rule: CompiledRule, policy: CompiledPolicy, peer: ModelEndpoint, destination: ModelEndpoint, port: number, protocol: Protocol): boolean {
    const peerOk = rule.peers === "all" || rule.peers.some((p) => peerMatches(p, policy, peer));
    return peerOk && (rule.ports === "all" || rule.ports.some((p) => portMatches(p, destination, port, protocol)));
}

const typeName = (d: Direction) => (d === "ingress" ? "Ingress" : "Egress");

function judgeDirection(
    direction: Direction,
    policiesIn: ReadonlyMap<string, readonly CompiledPolicy[]>,
    source: ModelEndpoint,
    destination: ModelEndpoint,
    port: number,
    protocol: Protocol,
): DirectionVerdict {
    const subject = direction === "egress" ? source : destination;
    const peer = direction === "egress" ? destination : source;
    const what = direction === "egress" ? `egress from ${subject.id}` : `ingress to ${subject.id}`;
    // An endpoint no policy isolates is open in this direction.
    const open = (why: string): DirectionVerdict => ({
        direction,
        endpoint: subject.id,
        allowed: true,
        isolated: false,
        isolatedBy: [],
        allowedBy: [],
        reason: `${what}: ${why}`,
    });
    if (subject.kind !== "pod") {
        return open("outside the cluster, no policy applies");
    }
    const selecting = (policiesIn.get(subject.namespace ?? "") ?? []).filter(
        (p) => (direction === "ingress" ? p.ingress : p.egress) && p.podSelector.matches(subject.labels),
    );
    if (selecting.length === 0) {
        return open(`not isolated (no policy selects it for ${typeName(direction)})`);
    }
    const allowedBy: RuleRef[] = [];
    for (const policy of selecting) {
        for (const rule of direction === "ingress" ? policy.ingressRules : policy.egressRules) {
            if (ruleMatches(rule, policy, peer, destination, port, protocol)) {
                allowedBy.push({ policy: policy.id, direction, rule: rule.index });
            }
        }
    }
    const isolatedBy = selecting.map((p) => p.id);
    if (allowedBy.length > 0) {
        const refs = allowedBy.map((r) => `${r.policy} ${r.direction}[${r.rule}]`).join(", ");
        return { direction, endpoint: subject.id, allowed: true, isolated: true, isolatedBy, allowedBy, reason: `${what}: allowed by ${refs}` };
    }
    const counterpart = direction === "egress" ? `to ${peer.id}` : `from ${peer.id}`;
    return {
        direction,
        endpoint: subject.id,
        allowed: false,
        isolated: true,
        isolatedBy,
        allowedBy,
        reason: `${what}: isolated by ${isolatedBy.join(", ")}; no ${direction} rule allows ${protocol} ${port} ${counterpart}`,
    };
}

/** Compiles the model and policies once; evaluate and matrix then reuse them. */
export function createEvaluator(model: ClusterModel, policies: readonly unknown[] | CompiledPolicies): Evaluator {
    const endpoints = compileModel(model);
    const compiled = Array.isArray(policies) ? compilePolicies(policies) : (policies as CompiledPolicies);
    const byNamespace = new Map<string, CompiledPolicy[]>();
    for (const p of compiled.policies) {
        const list = byNamespace.get(p.namespace);
        if (list) list.push(p);
        else byNamespace.set(p.namespace, [p]);
    }
    const publicEndpoints: Endpoint[] = [...endpoints.values()].map(({ id, kind, namespace, name, ip }) =>
        kind === "pod" ? { id, kind, namespace, name, ip } : { id, kind, name, ip },
    );
    const lookup = (id: string, role: string): ModelEndpoint => {
        const e = endpoints.get(id);
        if (!e) throw new ModelError([`${role} ${JSON.stringify(id)} is not an endpoint of the model; known: ${[...endpoints.keys()].join(", ")}`]);
        return e;
    };
    const evaluate = (q: ConnectionQuery): Verdict => {
        const protocol = q.protocol ?? "TCP";
        const source = lookup(q.from, "source");
        const destination = lookup(q.to, "destination");
        const egress = judgeDirection("egress", byNamespace, source, destination, q.port, protocol);
        const ingress = judgeDirection("ingress", byNamespace, source, destination, q.port, protocol);
        const allowed = egress.allowed && ingress.allowed;
        const reason = allowed
            ? `allowed: ${egress.reason}; ${ingress.reason}`
            : `denied: ${[egress, ingress]
                  .filter((d) => !d.allowed)
                  .map((d) => d.reason)
                  .join("; ")}`;
        return { from: source.id, to: destination.id, port: q.port, protocol, allowed, egress, ingress, reason };
    };
    const matrix = (probes: readonly Probe[], opts: MatrixOptions = {}): ConnectivityMatrix => {
        const all = [...endpoints.keys()];
        const froms = (opts.from ?? all).map((id) => lookup(id, "source").id);
        const tos = (opts.to ?? all).map((id) => lookup(id, "destination").id);
        const cells: MatrixCell[] = [];
        for (const from of froms) {
            for (const to of tos) {
                if (from === to && !opts.includeSelf) continue;
                // Between two outside addresses no policy can apply: nothing to judge.
                if (endpoints.get(from)?.kind === "external" && endpoints.get(to)?.kind === "external") continue;
                for (const probe of probes) {
                    cells.push({ probe: probe.name, ...evaluate({ from, to, port: probe.port, protocol: probe.protocol }) });
                }
            }
        }
        return { endpoints: publicEndpoints, probes, cells };
    };
    const modelEndpoints = [...endpoints.values()];
    const reach = (probes: readonly Probe[]): Reach => createReach(modelEndpoints, compiled.policies, probes);
    return { endpoints: publicEndpoints, policies: compiled, evaluate, matrix, modelEndpoints, reach };
}

/** Judges one connection. For many, build an Evaluator once with createEvaluator. */
export function evaluateConnection(model: ClusterModel, policies: readonly unknown[] | CompiledPolicies, query: ConnectionQuery): Verdict {
    return createEvaluator(model, policies).evaluate(query);
}

/** Every (source, destination, probe) cell, self-traffic and outside-to-outside excluded. */
export function connectivityMatrix(
    model: ClusterModel,
    policies: readonly unknown[] | CompiledPolicies,
    probes: readonly Probe[],
    opts?: MatrixOptions,
): ConnectivityMatrix {
    return createEvaluator(model, policies).matrix(probes, opts);
}

/** The cell for (from, to, probe), or undefined when the matrix does not hold it. */
export function cellOf(matrix: ConnectivityMatrix, from: string, to: string, probe: string): MatrixCell | undefined {
    return matrix.cells.find((c) => c.from === from && c.to === to && c.probe === probe);
}
