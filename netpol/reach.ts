// Reachability between all endpoints at once, computed per policy rather than per pair.
//
// Each rule's peers, and each rule's ports for a probe, become a bitset over the endpoints. What a
// pod may send is the union of its egress rules' (peers AND ports); what it may receive is the
// union of the peers of those ingress rules whose ports it has. Both depend only on which policies
// select the pod (and, for ingress, which of their rules' ports it offers), so pods that share
// those share one computed set. A connection is allowed when both directions allow it: the same
// rules evaluate() applies one query at a time, which still writes the reason for each finding.
import { cidrContains } from "./cidr";
import type { CompiledPeer, CompiledPolicy, CompiledRule } from "./policy";
import type { ModelEndpoint, Probe } from "./types";

/** A fixed-size set of endpoint indices. */
export class Bitset {
    readonly size: number;
    readonly words: Uint32Array;

    constructor(size: number) {
        this.size = size;
        this.words = new Uint32Array((size + 31) >>> 5);
    }

    static full(size: number): Bitset {
        const b = new Bitset(size);
        b.words.fill(0xffffffff);
        const tail = size & 31;
        if (tail !== 0) b.words[b.words.length - 1] = (2 ** tail - 1) >>> 0;
        return b;
    }

    static of(size: number, indices: Iterable<number>): Bitset {
        const b = new Bitset(size);
        for (const i of indices) b.add(i);
        return b;
    }

    add(i: number): void {
        this.words[i >>> 5]! |= 1 << (i & 31);
    }

    delete(i: number): void {
        this.words[i >>> 5]! &= ~(1 << (i & 31));
    }

    has(i: number): boolean {
        return ((this.words[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0;
    }

    /** this |= other */
    unionWith(other: Bitset): void {
        const w = this.words;
        const o = other.words;
        for (let i = 0; i < w.length; i++) w[i]! |= o[i]!;
    }

    /** this |= a & b */
    unionWithBoth(a: Bitset, b: Bitset): void {
        const w = this.words;
        const x = a.words;
        const y = b.words;
        for (let i = 0; i < w.length; i++) w[i]! |= x[i]! & y[i]!;
    }

    /** A new set: this & other. */
    and(other: Bitset): Bitset {
        const out = new Bitset(this.size);
        for (let i = 0; i < out.words.length; i++) out.words[i] = this.words[i]! & other.words[i]!;
        return out;
    }

    isEmpty(): boolean {
        return this.words.every((w) => w === 0);
    }

    count(): number {
        let n = 0;
        for (let w of this.words) {
            while (w !== 0) {
                w &= w - 1;
                n++;
            }
        }
        return n;
    }

    /** Calls fn for every member, in ascending order. */
    forEach(fn: (i: number) => void): void {
        const w = this.words;
        for (let k = 0; k < w.length; k++) {
            let word = w[k]!;
            while (word !== 0) {
                const low = word & -word;
                fn((k << 5) + 31 - Math.clz32(low));
                word ^= low;
            }
        }
    }
}

/**
 * A set of endpoint indices, stored as a sorted list while small (a namespace's pods, kube-dns)
 * and as a bitset once large: a cluster of 25,000 pods has thousands of small sets and a few
 * large ones, and a bitset each would cost a scan of 800 words per union and per walk.
 */
export class IndexSet {
    readonly size: number;
    private readonly list: Int32Array | undefined;
    private readonly bits: Bitset | undefined;

    private constructor(size: number, list: Int32Array | undefined, bits: Bitset | undefined) {
        this.size = size;
        this.list = list;
        this.bits = bits;
    }

    static full(size: number): IndexSet {
        return new IndexSet(size, undefined, Bitset.full(size));
    }

    static empty(size: number): IndexSet {
        return new IndexSet(size, new Int32Array(0), undefined);
    }

    /** From ascending, distinct indices. */
    static fromSorted(size: number, indices: ArrayLike<number>): IndexSet {
        if (indices.length * 32 <= size) return new IndexSet(size, Int32Array.from(indices), undefined);
        return new IndexSet(size, undefined, Bitset.of(size, Array.from(indices)));
    }

    static fromBits(bits: Bitset): IndexSet {
        return new IndexSet(bits.size, undefined, bits);
    }

    has(i: number): boolean {
        if (this.bits) return this.bits.has(i);
        const list = this.list!;
        let lo = 0;
        let hi = list.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >>> 1;
            const v = list[mid]!;
            if (v === i) return true;
            if (v < i) lo = mid + 1;
            else hi = mid - 1;
        }
        return false;
    }

    isEmpty(): boolean {
        return this.bits ? this.bits.isEmpty() : this.list!.length === 0;
    }

    /** Calls fn for every member, in ascending order. */
    forEach(fn: (i: number) => void): void {
        if (this.bits) this.bits.forEach(fn);
        else for (const i of this.list!) fn(i);
    }

    /** The members that are also in `other`. */
    intersect(other: IndexSet): IndexSet {
        if (other.bits && this.bits) return IndexSet.fromBits(this.bits.and(other.bits));
        const [walk, test] = this.bits ? [other, this as IndexSet] : [this as IndexSet, other];
        const out: number[] = [];
        walk.forEach((i) => test.has(i) && out.push(i));
        return IndexSet.fromSorted(this.size, out);
    }

    /** The union of `sets`. */
    static union(size: number, sets: readonly IndexSet[]): IndexSet {
        if (sets.length === 0) return IndexSet.empty(size);
        if (sets.length === 1) return sets[0]!;
        const total = sets.reduce((sum, s) => sum + (s.bits ? size : s.list!.length), 0);
        if (total * 32 > size) {
            const bits = new Bitset(size);
            for (const s of sets) {
                if (s.bits) bits.unionWith(s.bits);
                else for (const i of s.list!) bits.add(i);
            }
            return IndexSet.fromBits(bits);
        }
        const merged = new Int32Array(total);
        let k = 0;
        for (const s of sets) {
            merged.set(s.list!, k);
            k += s.list!.length;
        }
        merged.sort();
        const out: number[] = [];
        for (let i = 0; i < merged.length; i++) if (i === 0 || merged[i] !== merged[i - 1]) out.push(merged[i]!);
        return IndexSet.fromSorted(size, out);
    }
}

export interface Reach {
    readonly endpoints: readonly ModelEndpoint[];
    readonly probes: readonly Probe[];
    indexOf(id: string): number | undefined;
    /** True when `from` may send probe `probe` to `to`: egress allowed at the source, ingress at the destination. */
    allowed(from: number, to: number, probe: number): boolean;
    /** Calls fn, in ascending order, for each member of `candidates` that `from` reaches on `probe` (never `from`). */
    forEachReachable(from: number, probe: number, candidates: Bitset, fn: (to: number) => void): void;
}

/**
 * The endpoint count and the two sets every index shares. The indexes compare their sets with
 * FULL and EMPTY by identity (to skip an intersection or a rule), so there is one of each per Reach.
 */
interface Universe {
    readonly n: number;
    readonly FULL: IndexSet;
    readonly EMPTY: IndexSet;
}

/** Where the pods are and which policies select each, per direction: what every other index reads. */
interface Layout {
    readonly podsByNamespace: ReadonlyMap<string, readonly number[]>;
    readonly namespaceLabels: ReadonlyMap<string, ModelEndpoint["namespaceLabels"]>;
    readonly egressOf: readonly (readonly number[])[];
    readonly ingressOf: readonly (readonly number[])[];
}

function layout(endpoints: readonly ModelEndpoint[], policies: readonly CompiledPolicy[]): Layout {
    const podsByNamespace = new Map<string, number[]>();
    const namespaceLabels = new Map<string, ModelEndpoint["namespaceLabels"]>();
    endpoints.forEach((e, i) => {
        if (e.kind !== "pod" || e.namespace === undefined) return;
        const list = podsByNamespace.get(e.namespace);
        if (list) list.push(i);
        else podsByNamespace.set(e.namespace, [i]);
        namespaceLabels.set(e.namespace, e.namespaceLabels);
    });

    // Which policies select each pod, per direction.
    const egressOf: number[][] = endpoints.map(() => []);
    const ingressOf: number[][] = endpoints.map(() => []);
    policies.forEach((policy, p) => {
        for (const i of podsByNamespace.get(policy.namespace) ?? []) {
            if (!policy.podSelector.matches(endpoints[i]!.labels)) continue;
            if (policy.egress) egressOf[i]!.push(p);
            if (policy.ingress) ingressOf[i]!.push(p);
        }
    });
    return { podsByNamespace, namespaceLabels, egressOf, ingressOf };
}

/** The endpoints a rule's peers name (all of them for a rule without peers), computed once per peer and rule. */
function peerIndex(
    endpoints: readonly ModelEndpoint[],
    { n, FULL }: Universe,
    { podsByNamespace, namespaceLabels }: Layout,
): (rule: CompiledRule, policy: CompiledPolicy) => IndexSet {
    const namespacesMatching = new Map<string, string[]>();
    const peerSets = new Map<string, IndexSet>();
    const peerSet = (peer: CompiledPeer, policy: CompiledPolicy): IndexSet => {
        const key =
            peer.kind === "ipBlock"
                ? `ip|${peer.text}`
                : `pods|${peer.namespaces === "own" ? `own:${policy.namespace}` : `ns:${peer.namespaces.key}`}|${peer.pods.key}`;
        let set = peerSets.get(key);
        if (set) return set;
        const members: number[] = [];
        if (peer.kind === "ipBlock") {
            endpoints.forEach((e, i) => {
                if (cidrContains(peer.cidr, e.address) && !peer.except.some((c) => cidrContains(c, e.address))) members.push(i);
            });
        } else {
            let namespaces: string[];
            if (peer.namespaces === "own") {
                namespaces = [policy.namespace];
            } else {
                const selector = peer.namespaces;
                namespaces = namespacesMatching.get(selector.key) ?? [...namespaceLabels].filter(([, labels]) => selector.matches(labels)).map(([ns]) => ns);
                namespacesMatching.set(selector.key, namespaces);
            }
            for (const ns of namespaces) {
                for (const i of podsByNamespace.get(ns) ?? []) if (peer.pods.matches(endpoints[i]!.labels)) members.push(i);
            }
            members.sort((a, b) => a - b);
        }
        set = IndexSet.fromSorted(n, members);
        peerSets.set(key, set);
        return set;
    };

    const rulePeerSets = new Map<CompiledRule, IndexSet>();
    const rulePeers = (rule: CompiledRule, policy: CompiledPolicy): IndexSet => {
        if (rule.peers === "all") return FULL;
        let set = rulePeerSets.get(rule);
        if (!set) {
            set = IndexSet.union(
                n,
                rule.peers.map((peer) => peerSet(peer, policy)),
            );
            rulePeerSets.set(rule, set);
        }
        return set;
    };
    return rulePeers;
}

/** The destinations a rule's ports admit for a probe, computed once per rule and probe. */
function portIndex(endpoints: readonly ModelEndpoint[], probes: readonly Probe[], { n, FULL, EMPTY }: Universe): (rule: CompiledRule, p: number) => IndexSet {
    // A named port means the destination's first container port of that name, and it must carry
    // the probe's number and protocol (as evaluate()'s portMatches).
    const namedSets = new Map<string, IndexSet>();
    const namedSet = (name: string, probe: Probe): IndexSet => {
        const key = `${name}|${probe.port}|${probe.protocol}`;
        let set = namedSets.get(key);
        if (!set) {
            const members: number[] = [];
            endpoints.forEach((e, i) => {
                const cp = e.containerPorts.find((c) => c.name === name);
                if (cp && cp.containerPort === probe.port && (cp.protocol ?? "TCP") === probe.protocol) members.push(i);
            });
            namedSets.set(key, (set = IndexSet.fromSorted(n, members)));
        }
        return set;
    };

    /** The destinations whose port this rule admits for the probe. */
    const portSets = new Map<CompiledRule, IndexSet[]>();
    const rulePorts = (rule: CompiledRule, p: number): IndexSet => {
        if (rule.ports === "all") return FULL;
        let perProbe = portSets.get(rule);
        if (!perProbe) portSets.set(rule, (perProbe = []));
        const cached = perProbe[p];
        if (cached) return cached;
        const probe = probes[p]!;
        const parts: IndexSet[] = [];
        let set: IndexSet | undefined;
        for (const port of rule.ports) {
            if (port.protocol !== probe.protocol) continue;
            if (port.name !== undefined) {
                parts.push(namedSet(port.name, probe));
            } else if (
                port.port === undefined ||
                (port.endPort === undefined ? port.port === probe.port : port.port <= probe.port && probe.port <= port.endPort)
            ) {
                set = FULL;
                break;
            }
        }
        set ??= parts.length === 0 ? EMPTY : IndexSet.union(n, parts);
        perProbe[p] = set;
        return set;
    };
    return rulePorts;
}

/**
 * Per endpoint and probe, computed when first asked: the endpoints it may send to (egress) and
 * receive from (ingress); null when no policy isolates it in that direction.
 */
function directionIndex(
    endpoints: readonly ModelEndpoint[],
    policies: readonly CompiledPolicy[],
    probes: readonly Probe[],
    { n, FULL, EMPTY }: Universe,
    { egressOf, ingressOf }: Layout,
    rulePeers: (rule: CompiledRule, policy: CompiledPolicy) => IndexSet,
    rulePorts: (rule: CompiledRule, p: number) => IndexSet,
): { egressTargets: (i: number, p: number) => IndexSet | null; ingressSources: (i: number, p: number) => IndexSet | null } {
    // Per endpoint and probe: undefined = not computed yet, null = not isolated (everything).
    const egressSets: (IndexSet | null | undefined)[][] = probes.map(() => new Array<IndexSet | null | undefined>(n));
    const ingressSets: (IndexSet | null | undefined)[][] = probes.map(() => new Array<IndexSet | null | undefined>(n));
    const shared = new Map<string, IndexSet>();

    const egressTargets = (i: number, p: number): IndexSet | null => {
        const known = egressSets[p]![i];
        if (known !== undefined) return known;
        let result: IndexSet | null = null;
        const selecting = egressOf[i]!;
        if (endpoints[i]!.kind === "pod" && selecting.length > 0) {
            const key = `e|${p}|${selecting.join(",")}`;
            result = shared.get(key) ?? null;
            if (!result) {
                const parts: IndexSet[] = [];
                for (const pi of selecting) {
                    const policy = policies[pi]!;
                    for (const rule of policy.egressRules) {
                        const ports = rulePorts(rule, p);
                        if (ports === EMPTY) continue;
                        const peers = rulePeers(rule, policy);
                        parts.push(ports === FULL ? peers : peers === FULL ? ports : peers.intersect(ports));
                    }
                }
                result = IndexSet.union(n, parts);
                shared.set(key, result);
            }
        }
        egressSets[p]![i] = result;
        return result;
    };

    const ruleIds = new Map<CompiledRule, number>();
    const ruleId = (rule: CompiledRule): number => {
        let id = ruleIds.get(rule);
        if (id === undefined) ruleIds.set(rule, (id = ruleIds.size));
        return id;
    };

    const ingressSources = (i: number, p: number): IndexSet | null => {
        const known = ingressSets[p]![i];
        if (known !== undefined) return known;
        let result: IndexSet | null = null;
        const selecting = ingressOf[i]!;
        if (endpoints[i]!.kind === "pod" && selecting.length > 0) {
            const admitting: [CompiledRule, CompiledPolicy][] = [];
            for (const pi of selecting) {
                const policy = policies[pi]!;
                for (const rule of policy.ingressRules) if (rulePorts(rule, p).has(i)) admitting.push([rule, policy]);
            }
            const key = `i|${admitting.map(([r]) => ruleId(r)).join(",")}`;
            result = shared.get(key) ?? null;
            if (!result) {
                result = IndexSet.union(
                    n,
                    admitting.map(([rule, policy]) => rulePeers(rule, policy)),
                );
                shared.set(key, result);
            }
        }
        ingressSets[p]![i] = result;
        return result;
    };
    return { egressTargets, ingressSources };
}

/**
 * Builds the reachability index; the work happens lazily, per endpoint and probe asked about.
 * Egress targets and ingress sources are unions of rule sets (peerIndex, portIndex), shared
 * between endpoints that the same policies select.
 */
export function createReach(endpoints: readonly ModelEndpoint[], policies: readonly CompiledPolicy[], probes: readonly Probe[]): Reach {
    const index = new Map(endpoints.map((e, i) => [e.id, i]));
    const n = endpoints.length;
    const all: Universe = { n, FULL: IndexSet.full(n), EMPTY: IndexSet.empty(n) };
    const where = layout(endpoints, policies);
    const { egressTargets, ingressSources } = directionIndex(
        endpoints,
        policies,
        probes,
        all,
        where,
        peerIndex(endpoints, all, where),
        portIndex(endpoints, probes, all),
    );

    const admits = (from: number, to: number, p: number) => {
        const inn = ingressSources(to, p);
        return inn === null || inn.has(from);
    };

    return {
        endpoints,
        probes,
        indexOf: (id) => index.get(id),
        allowed: (from, to, p) => {
            const out = egressTargets(from, p);
            return (out === null || out.has(to)) && admits(from, to, p);
        },
        forEachReachable: (from, p, candidates, fn) => {
            const out = egressTargets(from, p);
            if (out === null) {
                candidates.forEach((to) => to !== from && admits(from, to, p) && fn(to));
                return;
            }
            out.forEach((to) => to !== from && candidates.has(to) && admits(from, to, p) && fn(to));
        },
    };
}

/**
 * Named ports that match nothing: an ingress rule's port name that no container of the pods the
 * policy selects declares, or an egress rule's that no pod its peers reach declares. The policy is
 * valid, so the API server accepts it, but that port allows nothing (a typo such as `htpp`).
 */
export function unmatchedNamedPorts(endpoints: readonly ModelEndpoint[], policies: readonly CompiledPolicy[]): string[] {
    const warnings: string[] = [];
    const portNames = (pods: readonly ModelEndpoint[]) => [...new Set(pods.flatMap((e) => e.containerPorts.flatMap((c) => (c.name ? [c.name] : []))))];
    const named = (rule: CompiledRule) => (rule.ports === "all" ? [] : rule.ports.flatMap((p, j) => (p.name !== undefined ? [[p.name, j] as const] : [])));
    const byNamespace = new Map<string, ModelEndpoint[]>();
    for (const e of endpoints) {
        if (e.kind !== "pod" || e.namespace === undefined) continue;
        const list = byNamespace.get(e.namespace);
        if (list) list.push(e);
        else byNamespace.set(e.namespace, [e]);
    }
    const inNamespace = (ns: string) => byNamespace.get(ns) ?? [];
    const show = (pods: readonly ModelEndpoint[]) =>
        `${pods
            .slice(0, 3)
            .map((e) => e.id)
            .join(", ")}${pods.length > 3 ? ` and ${pods.length - 3} more` : ""}`;
    for (const policy of policies) {
        const selected = policy.ingress ? inNamespace(policy.namespace).filter((e) => policy.podSelector.matches(e.labels)) : [];
        for (const rule of policy.ingressRules) {
            if (selected.length === 0) break;
            const have = portNames(selected);
            for (const [name, j] of named(rule)) {
                if (have.includes(name)) continue;
                warnings.push(
                    `NetworkPolicy ${policy.id}: ingress[${rule.index}].ports[${j}] names port "${name}", but no container of the pods it selects (${show(selected)}) declares a port of that name, so it admits nothing. ` +
                        `Port names there: ${have.join(", ") || "none"}. Fix: use one of those names or the port number`,
                );
            }
        }
        if (!policy.egress) continue;
        for (const rule of policy.egressRules) {
            const ports = named(rule);
            if (ports.length === 0) continue;
            const peers =
                rule.peers === "all"
                    ? endpoints.filter((e) => e.kind === "pod")
                    : endpoints.filter(
                          (e) =>
                              e.kind === "pod" &&
                              (rule.peers as readonly CompiledPeer[]).some((peer) =>
                                  peer.kind === "ipBlock"
                                      ? cidrContains(peer.cidr, e.address) && !peer.except.some((c) => cidrContains(c, e.address))
                                      : (peer.namespaces === "own" ? e.namespace === policy.namespace : peer.namespaces.matches(e.namespaceLabels)) &&
                                        peer.pods.matches(e.labels),
                              ),
                      );
            if (peers.length === 0) continue;
            const have = portNames(peers);
            for (const [name, j] of ports) {
                if (have.includes(name)) continue;
                warnings.push(
                    `NetworkPolicy ${policy.id}: egress[${rule.index}].ports[${j}] names port "${name}", but none of the pods its peers select (${show(peers)}) declares a port of that name, so it allows nothing. ` +
                        `Port names there: ${have.join(", ") || "none"}. Fix: use one of those names or the port number`,
                );
            }
        }
    }
    return warnings;
}
