// PodDisruptionBudgets that allow a drain. A budget that allows no eviction (maxUnavailable 0,
// minAvailable 100%, or minAvailable at least the replica count) makes every node drain and
// cluster upgrade hang until someone deletes it by hand. The first two are visible on the budget
// alone (resource policy); the last needs the workload it selects (stack policy).
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { labelSelectorMatches } from "../netpol";
import type { ResourceCheck, StackCheck, StackViolation } from "./define";
import { ENVIRONMENT_CONFIG } from "./environment";
import { containsUnknown, isUnknown } from "./unknown";
import { get, type Manifest, podLabels, REPLICATED_KINDS, subject } from "./manifest";

function fix(environment: EnvironmentName): string {
    const value = ENVIRONMENT_RULES[environment].pdbMaxUnavailable;
    return `Fix: allow at least one disruption, e.g. maxUnavailable: ${JSON.stringify(value)} (${environment}'s value in config/environments.ts).`;
}

const percent = (v: unknown): number | undefined => (typeof v === "string" && /^\d+%$/.test(v) ? Number(v.slice(0, -1)) : undefined);

export function pdbProblems(pdb: Manifest, environment: EnvironmentName): string[] {
    const maxUnavailable = get(pdb, "spec", "maxUnavailable");
    const minAvailable = get(pdb, "spec", "minAvailable");
    if (maxUnavailable === 0 || percent(maxUnavailable) === 0) {
        return [
            `${subject(pdb)} sets maxUnavailable ${JSON.stringify(maxUnavailable)}, which allows no eviction: node drains and cluster upgrades hang. ${fix(environment)}`,
        ];
    }
    if (percent(minAvailable) !== undefined && (percent(minAvailable) as number) >= 100) {
        return [
            `${subject(pdb)} sets minAvailable ${JSON.stringify(minAvailable)}, which allows no eviction: node drains and cluster upgrades hang. ${fix(environment)}`,
        ];
    }
    return [];
}

export const pdbAllowsDrain: ResourceCheck<{ environment: EnvironmentName }> = {
    name: "pdb-allows-drain",
    description:
        "A PodDisruptionBudget allows at least one voluntary eviction: maxUnavailable 0 or minAvailable 100% blocks every node drain and cluster upgrade.",
    configSchema: ENVIRONMENT_CONFIG,
    kinds: ["PodDisruptionBudget"],
    check: (m, environment) => pdbProblems(m, environment),
};

/** Pods the budget must keep, scaled as the disruption controller does (percentages round up). */
function required(minAvailable: number | string, replicas: number): number | undefined {
    if (typeof minAvailable === "number") return minAvailable;
    const p = percent(minAvailable);
    return p === undefined ? undefined : Math.ceil((p * replicas) / 100);
}

/** An invalid selector selects nothing here: the API server rejects the budget anyway. */
function selects(selector: unknown, labels: Record<string, string>): boolean {
    try {
        return labelSelectorMatches(selector, labels);
    } catch {
        return false;
    }
}

/** Budgets whose minAvailable leaves no eviction for the workloads they select. */
export function pdbReplicaProblems(resources: readonly { manifest: Manifest; urn?: string }[], environment: EnvironmentName): StackViolation[] {
    const out: StackViolation[] = [];
    const workloads = resources.filter((r) => REPLICATED_KINDS.includes(r.manifest.kind));
    for (const { manifest: pdb, urn } of resources.filter((r) => r.manifest.kind === "PodDisruptionBudget")) {
        const minAvailable = get(pdb, "spec", "minAvailable");
        const selector = get(pdb, "spec", "selector");
        const ns = get(pdb, "metadata", "namespace");
        if ((typeof minAvailable !== "number" && typeof minAvailable !== "string") || containsUnknown(selector) || isUnknown(ns)) continue;
        for (const { manifest: w } of workloads) {
            const labels = podLabels(w);
            const replicas = get(w, "spec", "replicas") ?? 1;
            if (get(w, "metadata", "namespace") !== ns || isUnknown(labels) || containsUnknown(labels) || typeof replicas !== "number") continue;
            // policy/v1: a null selector selects no pod, an empty one every pod of the namespace. Label
            // matching is the evaluator's, so the pack has one selector rule.
            if (selector === undefined || !selects(selector, labels as Record<string, string>)) continue;
            const keep = required(minAvailable, replicas);
            if (keep !== undefined && keep >= replicas) {
                out.push({
                    message:
                        `${subject(pdb)} keeps minAvailable ${JSON.stringify(minAvailable)} of ${subject(w)}, which runs ${replicas} replica${replicas === 1 ? "" : "s"}: ` +
                        `no pod may ever be evicted, so node drains and cluster upgrades hang. ${fix(environment)}`,
                    ...(urn !== undefined ? { urn } : {}),
                });
            }
        }
    }
    return out;
}

export const pdbAllowsDrainAtReplicas: StackCheck<{ environment: EnvironmentName }> = {
    name: "pdb-allows-drain-at-replicas",
    description:
        "A PodDisruptionBudget's minAvailable stays below the replica count of the workload it selects; otherwise no eviction is ever allowed and drains hang.",
    configSchema: ENVIRONMENT_CONFIG,
    check: (resources, environment) =>
        pdbReplicaProblems(
            resources.flatMap((r) => (r.manifest ? [{ manifest: r.manifest, urn: r.urn }] : [])),
            environment,
        ),
};
