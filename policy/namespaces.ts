// namespace-labels: an environment's namespace says which environment it is, and Pod Security
// Admission enforces that environment's level on it.
import { ENVIRONMENT_RULES, type EnvironmentName, type PodSecurityLevel } from "../config/environments";
import { ENVIRONMENT_LABEL } from "../kube/labels";
import type { ResourceCheck } from "./define";
import { ENVIRONMENT_CONFIG } from "./environment";
import { get, type Manifest, stringMap, subject } from "./manifest";
import { isUnknown } from "./unknown";

export const PSA_ENFORCE = "pod-security.kubernetes.io/enforce";
export const PSA_WARN = "pod-security.kubernetes.io/warn";

const STRICTNESS: Readonly<Record<PodSecurityLevel, number>> = { privileged: 0, baseline: 1, restricted: 2 };

function isLevel(v: unknown): v is PodSecurityLevel {
    return typeof v === "string" && v in STRICTNESS;
}

/** Violations of one Namespace for the environment the stack deploys. */
export function namespaceLabelProblems(ns: Manifest, environment: EnvironmentName): string[] {
    const labels = stringMap(get(ns, "metadata", "labels"));
    if (isUnknown(labels)) return [];
    const who = subject(ns);
    const problems: string[] = [];

    const env = labels[ENVIRONMENT_LABEL];
    if (env === undefined) {
        problems.push(
            `${who} has no '${ENVIRONMENT_LABEL}' label; this stack deploys ${environment}. ` +
                `Fix: label it ${ENVIRONMENT_LABEL}=${environment} (components/namespace.ts namespaceManifest does).`,
        );
    } else if (!isUnknown(env) && env !== environment) {
        problems.push(
            `${who} is labelled ${ENVIRONMENT_LABEL}=${env}, but this stack deploys ${environment}. ` +
                `Fix: label it ${ENVIRONMENT_LABEL}=${environment}, or preview the ${env} stack instead.`,
        );
    }

    const rules = ENVIRONMENT_RULES[environment].podSecurity;
    const level = (label: string, required: PodSecurityLevel, what: string) => {
        const seen = labels[label];
        if (isUnknown(seen)) return;
        if (seen === undefined || !isLevel(seen)) {
            problems.push(
                `${who} has ${seen === undefined ? `no ${label} label` : `${label}=${JSON.stringify(seen)}, which is not a Pod Security level`}; ` +
                    `${environment} ${what} ${JSON.stringify(required)}. Fix: label it ${label}=${required}.`,
            );
        } else if (STRICTNESS[seen] < STRICTNESS[required]) {
            problems.push(`${who} sets ${label}=${seen}; ${environment} ${what} at least ${JSON.stringify(required)}. Fix: label it ${label}=${required}.`);
        }
    };
    level(PSA_ENFORCE, rules.enforce, "enforces Pod Security");
    level(PSA_WARN, rules.warn, "warns at Pod Security");
    return problems;
}

export const namespaceLabels: ResourceCheck<{ environment: EnvironmentName }> = {
    name: "namespace-labels",
    description:
        "An environment's namespace carries the environment label of the stack that deploys it and the Pod Security Admission labels of that " +
        "environment (config/environments.ts). Tools find an environment by that label, and without the enforce label a privileged pod is admitted.",
    configSchema: ENVIRONMENT_CONFIG,
    kinds: ["Namespace"],
    check: (m, environment) => namespaceLabelProblems(m, environment),
};
