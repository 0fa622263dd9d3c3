// NetworkPolicy shape rules that need no evaluation: other namespaces are admitted only by the
// name the API server sets (resource policy), and every environment namespace starts from a
// default deny in both directions (stack policy). What the policies mean together is judged by
// the evaluator in environmentIsolated.ts.
import { ENVIRONMENT_LABEL, NAMESPACE_NAME_LABEL } from "../kube/labels";
import type { ResourceCheck, StackCheck, StackViolation } from "./define";
import { get, isObject, list, type Manifest, stringMap, subject } from "./manifest";
import { containsUnknown, isUnknown } from "./unknown";

/** Every peer of a NetworkPolicy with where it sits, e.g. `spec.ingress[0].from[1]`. */
function peers(np: Manifest): { where: string; peer: unknown }[] {
    const out: { where: string; peer: unknown }[] = [];
    for (const [direction, field] of [
        ["ingress", "from"],
        ["egress", "to"],
    ] as const) {
        const rules = list(get(np, "spec", direction));
        if (isUnknown(rules)) continue;
        rules.forEach((rule, i) => {
            const items = list(get(rule, field));
            if (isUnknown(items)) return;
            items.forEach((peer, j) => out.push({ where: `spec.${direction}[${i}].${field}[${j}]`, peer }));
        });
    }
    return out;
}

const BY_NAME_FIX = `select the namespace by name: namespaceSelector.matchLabels {"${NAMESPACE_NAME_LABEL}": "<namespace>"}`;

/** Violations of one NetworkPolicy: peers that admit namespaces by anything but their name. */
export function namespaceSelectorProblems(np: Manifest): string[] {
    const who = subject(np);
    const problems: string[] = [];
    for (const { where, peer } of peers(np)) {
        const selector = get(peer, "namespaceSelector");
        if (selector === undefined || isUnknown(selector) || containsUnknown(selector)) continue;
        const matchLabels = stringMap(get(selector, "matchLabels"));
        const expressions = list(get(selector, "matchExpressions"));
        if (isUnknown(matchLabels) || isUnknown(expressions)) continue;
        if (Object.keys(matchLabels).length === 0 && expressions.length === 0) {
            problems.push(
                `${who}: ${where} has an empty namespaceSelector, which admits every namespace in the cluster, other environments included. Fix: ${BY_NAME_FIX}.`,
            );
            continue;
        }
        const custom = [...Object.keys(matchLabels), ...expressions.map((e) => get(e, "key"))].filter((k) => k !== NAMESPACE_NAME_LABEL);
        if (custom.length > 0) {
            const keys = [...new Set(custom.map((k) => JSON.stringify(k)))].join(", ");
            const [key, value] = Object.entries(matchLabels).find(([k]) => k !== NAMESPACE_NAME_LABEL) ?? [];
            const example = typeof key === "string" && typeof value === "string" ? ` (any namespace labelled ${key}=${value} is admitted)` : "";
            problems.push(
                `${who}: ${where} selects namespaces by ${keys}, a label any namespace's owner can set${example}. ` +
                    `Fix: ${BY_NAME_FIX}; only the API server sets ${NAMESPACE_NAME_LABEL}.`,
            );
            continue;
        }
        for (const e of expressions) {
            const operator = get(e, "operator");
            if (operator !== "In") {
                problems.push(
                    `${who}: ${where} selects namespaces with ${NAMESPACE_NAME_LABEL} ${String(operator)}, which admits namespaces nobody named. ` +
                        `Fix: name them with matchLabels or the In operator.`,
                );
            }
        }
    }
    return problems;
}

export const namespaceSelectors: ResourceCheck<object> = {
    name: "networkpolicy-namespace-selector",
    description:
        `A NetworkPolicy admits other namespaces only by ${NAMESPACE_NAME_LABEL}, which the API server sets and no tenant can: an empty ` +
        "namespaceSelector admits every namespace, and a custom label (environment=prod) is admitted to whoever copies it.",
    kinds: ["NetworkPolicy"],
    check: (m) => namespaceSelectorProblems(m),
};

type Direction = "Ingress" | "Egress";

/** Does this NetworkPolicy deny all of `direction` for every pod of its namespace? */
function deniesAll(np: Manifest, direction: Direction): boolean | "unknown" {
    const podSelector = get(np, "spec", "podSelector");
    const types = list(get(np, "spec", "policyTypes"));
    const rules = list(get(np, "spec", direction.toLowerCase()));
    if (containsUnknown(podSelector) || isUnknown(types) || containsUnknown(types) || isUnknown(rules)) return "unknown";
    const selectsAll =
        podSelector === undefined ||
        (isObject(podSelector) &&
            Object.keys(stringMap(podSelector["matchLabels"])).length === 0 &&
            (list(podSelector["matchExpressions"]) as unknown[]).length === 0);
    // The API server defaults policyTypes to Ingress, plus Egress when egress rules exist.
    const effective = types.length > 0 ? types : ["Ingress", ...((list(get(np, "spec", "egress")) as unknown[]).length > 0 ? ["Egress"] : [])];
    return selectsAll && effective.includes(direction) && rules.length === 0;
}

/** Violations: environment namespaces of the stack lacking a default deny in either direction. */
export function defaultDenyProblems(manifests: readonly { manifest: Manifest; urn?: string }[]): StackViolation[] {
    const out: StackViolation[] = [];
    const policies = manifests.filter((r) => r.manifest.kind === "NetworkPolicy");
    for (const { manifest: ns, urn } of manifests.filter((r) => r.manifest.kind === "Namespace")) {
        const name = get(ns, "metadata", "name");
        const labels = stringMap(get(ns, "metadata", "labels"));
        if (typeof name !== "string" || isUnknown(labels) || labels[ENVIRONMENT_LABEL] === undefined) continue;
        const mine = policies.filter((p) => get(p.manifest, "metadata", "namespace") === name);
        // A policy whose namespace is not known yet may be the deny: judge again at update.
        if (policies.some((p) => isUnknown(get(p.manifest, "metadata", "namespace")))) continue;
        const missing = (["Ingress", "Egress"] as const).filter((d) => {
            const verdicts = mine.map((p) => deniesAll(p.manifest, d));
            return !verdicts.includes(true) && !verdicts.includes("unknown");
        });
        if (missing.length === 0) continue;
        const what = missing.join(" and ").toLowerCase();
        out.push({
            message:
                `Namespace ${name} has no default-deny NetworkPolicy for ${what}: until one exists, every ${what} path not explicitly allowed stays open. ` +
                `Fix: add a NetworkPolicy in ${name} with podSelector {} and policyTypes [${missing.map((d) => `"${d}"`).join(", ")}] and no rules ` +
                `(components/networkIsolation.ts "default-deny" denies both).`,
            ...(urn !== undefined ? { urn } : {}),
        });
    }
    return out;
}

export const defaultDeny: StackCheck<object> = {
    name: "default-deny-per-namespace",
    description:
        "Every environment namespace has a NetworkPolicy selecting all its pods that denies all ingress and all egress, so a path is open only " +
        "when a policy allows it by name, and removing an allowance closes it instead of opening everything.",
    check: (resources) => defaultDenyProblems(resources.flatMap((r) => (r.manifest ? [{ manifest: r.manifest, urn: r.urn }] : []))),
};
