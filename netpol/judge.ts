// Judges the policies against what environment isolation requires: no path between
// environments, nothing admitted from the namespace that spoofs an environment's labels, and DNS
// and the ingress controller still working. Each finding names the connection, the policy and
// rule responsible (or the isolating policies that leave it denied), and the fix.
//
// Which connections break a requirement comes from the reachability index (per policy, so a
// thousand namespaces take seconds); only the findings kept are explained connection by
// connection with evaluate(). Beyond `maxFindings` findings are counted, not explained, so the
// report stays bounded whatever the input.
import { createEvaluator, type Evaluator } from "./evaluate";
import type { CompiledPolicies } from "./policy";
import { Bitset, unmatchedNamedPorts } from "./reach";
import type { Finding, FindingKind, IsolationModel, MatrixCell, Probe } from "./types";

const FIX: Record<FindingKind, string> = {
    "cross-environment":
        "Fix: admit other namespaces only by the API server's `kubernetes.io/metadata.name` label, never by an empty namespaceSelector or a label a tenant can set.",
    "spoof-admitted":
        "Fix: select namespaces by `kubernetes.io/metadata.name` (set by the API server, not settable by tenants), not by `environment` or other custom labels.",
    "dns-blocked":
        "Fix: allow egress to kube-dns with ONE peer carrying both selectors (namespaceSelector kubernetes.io/metadata.name=kube-system AND podSelector k8s-app=kube-dns) on UDP 53 and TCP 53. " +
        "Listing Egress in policyTypes with no egress rule denies all egress, DNS included.",
    "ingress-blocked": "Fix: allow ingress to the app pods on the app port from namespaceSelector kubernetes.io/metadata.name=<ingress controller namespace>.",
};

export const FINDING_KINDS: readonly FindingKind[] = ["cross-environment", "spoof-admitted", "dns-blocked", "ingress-blocked"];

/** Findings explained in full by default; the rest are counted. */
export const DEFAULT_MAX_FINDINGS = 100;

function describe(cells: readonly MatrixCell[]): string {
    return cells.map((c) => `${c.protocol} ${c.port} (${c.probe})`).join(", ");
}

/**
 * One reason per distinct outcome: cells decided by the same policies and rules read as one
 * sentence naming all their ports ("no egress rule allows UDP 53 / TCP 53 to ..."), not one each.
 */
function reasons(cells: readonly MatrixCell[]): string {
    const groups = new Map<string, MatrixCell[]>();
    for (const c of cells) {
        const shape = JSON.stringify([c.egress.allowed, c.egress.isolatedBy, c.egress.allowedBy, c.ingress.allowed, c.ingress.isolatedBy, c.ingress.allowedBy]);
        groups.set(shape, [...(groups.get(shape) ?? []), c]);
    }
    return [...groups.values()]
        .map((group) => {
            const first = group[0] as MatrixCell;
            const ports = group.map((c) => `${c.protocol} ${c.port}`).join(" / ");
            return first.reason.split(`${first.protocol} ${first.port}`).join(ports);
        })
        .join(" | ");
}

export interface JudgeOptions {
    /** Findings kept with their explanation; later ones are only counted. @default 100 */
    readonly maxFindings?: number;
}

/** How many connections (source, destination, probe) each requirement judged, and how many pairs broke it. */
export type FindingCounts = Readonly<Record<FindingKind, { readonly connections: number; readonly findings: number }>>;

export interface Judgement {
    /** The first `maxFindings` findings, in a stable order. */
    readonly findings: readonly Finding[];
    readonly counts: FindingCounts;
}

/** Judges the model's roles with the evaluator's policies. */
// One function: every role pair is judged in one pass, and the findings, their counts and the cap
// they share are its locals.
export function judgeIsolation(model: IsolationModel, evaluator: Evaluator, opts: JudgeOptions = {}): Judgement {
    const max = opts.maxFindings ?? DEFAULT_MAX_FINDINGS;
    const reach = evaluator.reach(model.probes);
    const n = reach.endpoints.length;
    const at = (id: string): number => {
        const i = reach.indexOf(id);
        if (i === undefined) throw new Error(`netpol: ${id} is a role of the model but not one of its endpoints`);
        return i;
    };
    const counts = Object.fromEntries(FINDING_KINDS.map((k) => [k, { connections: 0, findings: 0 }])) as Record<
        FindingKind,
        { connections: number; findings: number }
    >;
    const findings: Finding[] = [];

    const cells = (from: string, to: string, probes: readonly Probe[]): MatrixCell[] =>
        probes.map((p) => ({ probe: p.name, ...evaluator.evaluate({ from, to, port: p.port, protocol: p.protocol }) }));
    /** Records a finding; its explanation is built only while under the cap. */
    const add = (kind: FindingKind, from: string, to: string, probes: readonly Probe[], explain: (cells: MatrixCell[]) => string, wanted: boolean) => {
        counts[kind].findings += 1;
        if (findings.length >= max) return;
        const judged = cells(from, to, probes).filter((c) => c.allowed === wanted);
        if (judged.length === 0) return;
        findings.push({ kind, from, to, probes: judged.map((c) => c.probe), message: `${explain(judged)}. Why: ${reasons(judged)}. ${FIX[kind]}` });
    };
    const probeIndex = new Map(model.probes.map((p, i) => [p.name, i]));
    const allProbes = model.probes.map((_, i) => i);

    // Cross-environment: every pod of an environment against every pod of another.
    const envOfIndex = new Int32Array(n).fill(-1);
    const envSets = model.environments.map((env, e) => {
        const set = Bitset.of(n, env.pods.map(at));
        set.forEach((i) => (envOfIndex[i] = e));
        return set;
    });
    const othersByLabel = new Map<string, Bitset>();
    const othersOf = (label: string): Bitset => {
        let set = othersByLabel.get(label);
        if (!set) {
            set = new Bitset(n);
            model.environments.forEach((env, e) => env.environment !== label && set!.unionWith(envSets[e]!));
            othersByLabel.set(label, set);
        }
        return set;
    };
    /** Destinations among `candidates` that `from` reaches, each with the probes it reaches them on (ascending). */
    const openFrom = (from: number, candidates: Bitset): Map<number, number[]> => {
        const open = new Map<number, number[]>();
        for (const p of allProbes) {
            reach.forEachReachable(from, p, candidates, (to) => {
                const probes = open.get(to);
                if (probes) probes.push(p);
                else open.set(to, [p]);
            });
        }
        return new Map([...open].sort(([a], [b]) => a - b));
    };
    const othersCount = new Map<string, number>();
    model.environments.forEach((a) => {
        const others = othersOf(a.environment);
        let otherPods = othersCount.get(a.environment);
        if (otherPods === undefined) othersCount.set(a.environment, (otherPods = others.count()));
        counts["cross-environment"].connections += a.pods.length * otherPods * model.probes.length;
        const open: { from: number; fromId: string; to: number; probes: number[] }[] = [];
        for (const fromId of a.pods) {
            const from = at(fromId);
            for (const [to, probes] of openFrom(from, others)) open.push({ from, fromId, to, probes });
        }
        // Grouped by destination environment first, as the requirement reads.
        open.sort((x, y) => envOfIndex[x.to]! - envOfIndex[y.to]! || x.from - y.from || x.to - y.to);
        for (const o of open) {
            const b = model.environments[envOfIndex[o.to]!]!;
            const toId = reach.endpoints[o.to]!.id;
            add(
                "cross-environment",
                o.fromId,
                toId,
                o.probes.map((p) => model.probes[p]!),
                (c) => `${o.fromId} (${a.environment}) can reach ${toId} (${b.environment}) on ${describe(c)}: environments must be isolated`,
                true,
            );
        }
    });

    if (model.attacker) {
        const { namespace, impersonates } = model.attacker;
        const label = model.environments.find((e) => e.namespace === impersonates)?.environment ?? "?";
        const targets = new Bitset(n);
        for (const set of envSets) targets.unionWith(set);
        const targetCount = targets.count();
        for (const fromId of model.attacker.pods) {
            const from = at(fromId);
            counts["spoof-admitted"].connections += targetCount * model.probes.length;
            for (const [to, probes] of openFrom(from, targets)) {
                const toId = reach.endpoints[to]!.id;
                const env = model.environments[envOfIndex[to]!]!.environment;
                add(
                    "spoof-admitted",
                    fromId,
                    toId,
                    probes.map((p) => model.probes[p]!),
                    (c) =>
                        `namespace ${namespace}, which copies ${impersonates}'s labels (environment=${label}) but is no environment, is admitted to ${toId} (${env}) on ${describe(c)}`,
                    true,
                );
            }
        }
    }

    const dnsProbes = model.dnsProbes.map((p) => ({ probe: p, index: probeIndex.get(p.name) }));
    for (const env of model.environments) {
        for (const fromId of env.pods) {
            const from = at(fromId);
            for (const toId of model.dns) {
                const to = at(toId);
                counts["dns-blocked"].connections += dnsProbes.length;
                const blocked = dnsProbes.filter(({ index }) => index !== undefined && !reach.allowed(from, to, index)).map(({ probe }) => probe);
                if (blocked.length > 0) {
                    add(
                        "dns-blocked",
                        fromId,
                        toId,
                        blocked,
                        (c) => `${fromId} (${env.environment}) cannot reach DNS at ${toId} on ${describe(c)}: name resolution fails`,
                        false,
                    );
                }
            }
        }
        for (const app of env.apps) {
            const to = at(app.pod);
            const p = probeIndex.get(app.probe.name);
            for (const fromId of model.ingressController.pods) {
                counts["ingress-blocked"].connections += 1;
                if (p !== undefined && !reach.allowed(at(fromId), to, p)) {
                    add(
                        "ingress-blocked",
                        fromId,
                        app.pod,
                        [app.probe],
                        (c) =>
                            `the ingress controller ${fromId} cannot reach ${app.pod} (${env.environment}) on ${describe(c)}: the app is unreachable from outside`,
                        false,
                    );
                }
            }
        }
    }
    return { findings, counts };
}

export interface IsolationReport {
    /** The first `maxFindings` findings, each explained. */
    readonly findings: readonly Finding[];
    /** Every finding, counted per kind, with the connections each requirement judged. */
    readonly counts: FindingCounts;
    /** All findings, including those beyond `findings`. */
    readonly findingCount: number;
    /** Non-fatal notes on the policies (defaulted namespace, host bits in a CIDR, ignored rules, named ports matching nothing). */
    readonly warnings: readonly string[];
    /** True when there are no findings. Says what the policies mean, not that a CNI enforces them. */
    readonly ok: boolean;
    /** The evaluator the report was judged with: explains any connection, or gives the full matrix on request. */
    readonly evaluator: Evaluator;
}

/**
 * Evaluates the policies over the model and judges isolation: the one call the CLI and the
 * policy pack need. Throws PolicyValidationError / ModelError on invalid input.
 */
export function checkIsolation(model: IsolationModel, policies: readonly unknown[] | CompiledPolicies, opts: JudgeOptions = {}): IsolationReport {
    const evaluator = createEvaluator(model, policies);
    const { findings, counts } = judgeIsolation(model, evaluator, opts);
    const findingCount = FINDING_KINDS.reduce((sum, k) => sum + counts[k].findings, 0);
    const warnings = [...evaluator.policies.warnings, ...unmatchedNamedPorts(evaluator.modelEndpoints, evaluator.policies.policies)];
    return { findings, counts, findingCount, warnings, ok: findingCount === 0, evaluator };
}
