// Judges a connectivity matrix against what environment isolation requires: no path between
// environments, nothing admitted from the namespace that spoofs an environment's labels, and DNS
// and the ingress controller still working. Each finding names the connection, the policy and
// rule responsible (or the isolating policies that leave it denied), and the fix.
import { createEvaluator } from "./evaluate";
import type { CompiledPolicies } from "./policy";
import type { ConnectivityMatrix, Finding, FindingKind, IsolationModel, MatrixCell } from "./types";

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

/** Findings for the matrix; the matrix must hold the model's probes between the roles' pods. */
export function judgeIsolation(model: IsolationModel, matrix: ConnectivityMatrix): Finding[] {
    const byPair = new Map<string, MatrixCell[]>();
    for (const c of matrix.cells) {
        const key = `${c.from}\u0000${c.to}`;
        byPair.set(key, [...(byPair.get(key) ?? []), c]);
    }
    const cellsOf = (from: string, to: string) => byPair.get(`${from}\u0000${to}`) ?? [];
    const findings: Finding[] = [];
    const add = (kind: FindingKind, from: string, to: string, cells: MatrixCell[], what: string) => {
        if (cells.length === 0) return;
        findings.push({ kind, from, to, probes: cells.map((c) => c.probe), message: `${what}. Why: ${reasons(cells)}. ${FIX[kind]}` });
    };

    const envOf = new Map<string, string>();
    for (const env of model.environments) for (const pod of env.pods) envOf.set(pod, env.environment);

    for (const a of model.environments) {
        for (const b of model.environments) {
            if (a.environment === b.environment) continue;
            for (const from of a.pods) {
                for (const to of b.pods) {
                    const open = cellsOf(from, to).filter((c) => c.allowed);
                    add(
                        "cross-environment",
                        from,
                        to,
                        open,
                        `${from} (${a.environment}) can reach ${to} (${b.environment}) on ${describe(open)}: environments must be isolated`,
                    );
                }
            }
        }
    }
    if (model.attacker) {
        const { namespace, impersonates } = model.attacker;
        for (const from of model.attacker.pods) {
            for (const [to, env] of envOf) {
                const open = cellsOf(from, to).filter((c) => c.allowed);
                add(
                    "spoof-admitted",
                    from,
                    to,
                    open,
                    `namespace ${namespace}, which copies ${impersonates}'s labels (environment=${model.environments.find((e) => e.namespace === impersonates)?.environment ?? "?"}) but is no environment, is admitted to ${to} (${env}) on ${describe(open)}`,
                );
            }
        }
    }
    for (const env of model.environments) {
        for (const from of env.pods) {
            for (const to of model.dns) {
                const blocked = cellsOf(from, to).filter((c) => model.dnsProbes.some((p) => p.name === c.probe) && !c.allowed);
                add("dns-blocked", from, to, blocked, `${from} (${env.environment}) cannot reach DNS at ${to} on ${describe(blocked)}: name resolution fails`);
            }
        }
        for (const app of env.apps) {
            for (const from of model.ingressController.pods) {
                const blocked = cellsOf(from, app.pod).filter((c) => c.probe === app.probe.name && !c.allowed);
                add(
                    "ingress-blocked",
                    from,
                    app.pod,
                    blocked,
                    `the ingress controller ${from} cannot reach ${app.pod} (${env.environment}) on ${describe(blocked)}: the app is unreachable from outside`,
                );
            }
        }
    }
    return findings;
}

export interface IsolationReport {
    readonly matrix: ConnectivityMatrix;
    readonly findings: readonly Finding[];
    /** Non-fatal notes on the policies (defaulted namespace, host bits in a CIDR, ignored rules). */
    readonly warnings: readonly string[];
    /** True when there are no findings. Says what the policies mean, not that a CNI enforces them. */
    readonly ok: boolean;
}

/**
 * Evaluates the policies over the model's probes and judges isolation: the one call the CLI and
 * the policy pack need. Throws PolicyValidationError / ModelError on invalid input.
 */
export function checkIsolation(model: IsolationModel, policies: readonly unknown[] | CompiledPolicies): IsolationReport {
    const evaluator = createEvaluator(model, policies);
    const matrix = evaluator.matrix(model.probes);
    const findings = judgeIsolation(model, matrix);
    return { matrix, findings, warnings: evaluator.policies.warnings, ok: findings.length === 0 };
}
