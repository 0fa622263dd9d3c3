// Workload rules: what every pod template must carry before it reaches an environment. Each runs
// on Deployments and the other workload kinds alike, since a pod is a pod wherever it comes from.
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { imageProblems } from "../config/schema";
import type { ResourceCheck } from "./define";
import { ENVIRONMENT_CONFIG } from "./environment";
import { containersOf, get, isObject, list, LONG_RUNNING_KINDS, type Manifest, podSpec, REPLICATED_KINDS, subject, WORKLOAD_KINDS } from "./manifest";
import { isUnknown } from "./unknown";

// --- image-pinned ------------------------------------------------------------------------------

/** The reference shape the environment wants, for the fix. */
function pinnedExample(environment: EnvironmentName): string {
    const rules = ENVIRONMENT_RULES[environment];
    return rules.requireImageDigest ? "name:tag@sha256:<digest>" : rules.requireImageTag ? "name:<version>" : "name:<tag>";
}

export function imagePinProblems(m: Manifest, environment: EnvironmentName): string[] {
    const spec = podSpec(m);
    if (isUnknown(spec)) return [];
    return containersOf(spec).flatMap(({ label, container }) => {
        const image = get(container, "image");
        if (isUnknown(image)) return [];
        const problems = typeof image === "string" ? imageProblems(image, environment) : [`${JSON.stringify(image ?? null)} is not an image reference.`];
        return problems.map(
            (p) =>
                `${subject(m)} ${label}: ${p} Fix: pin the image as ${pinnedExample(environment)} (this program: pulumi config set image <ref> -s ${environment}).`,
        );
    });
}

export const imagePinned: ResourceCheck<{ environment: EnvironmentName }> = {
    name: "image-pinned",
    description:
        "Images are pinned as the environment requires (config/environments.ts): an explicit tag, never `latest`, outside dev, and a digest in " +
        "prod, so what runs is exactly what was tested and a node pulling again cannot get different bytes.",
    configSchema: ENVIRONMENT_CONFIG,
    kinds: WORKLOAD_KINDS,
    check: (m, environment) => imagePinProblems(m, environment),
};

// --- replicas-minimum --------------------------------------------------------------------------

export function replicaProblems(m: Manifest, environment: EnvironmentName): string[] {
    const replicas = get(m, "spec", "replicas");
    if (isUnknown(replicas)) return [];
    const min = ENVIRONMENT_RULES[environment].minReplicas;
    // The API server defaults an unset count to 1.
    const count = replicas === undefined ? 1 : replicas;
    if (typeof count === "number" && count >= min) return [];
    const seen =
        replicas === undefined ? "runs 1 replica (spec.replicas unset defaults to 1)" : `runs ${JSON.stringify(count)} replica${count === 1 ? "" : "s"}`;
    return [
        `${subject(m)} ${seen}; ${environment} runs at least ${min}, so one node drain or crash must not take the app down. ` +
            `Fix: set spec.replicas to at least ${min} (this program: pulumi config set replicas ${min} -s ${environment}).`,
    ];
}

export const replicasMinimum: ResourceCheck<{ environment: EnvironmentName }> = {
    name: "replicas-minimum",
    description:
        "Replicated workloads run at least the environment's minimum replicas (config/environments.ts minReplicas), so a node drain or a crash leaves the app serving.",
    configSchema: ENVIRONMENT_CONFIG,
    kinds: REPLICATED_KINDS,
    check: (m, environment) => replicaProblems(m, environment),
};

// --- resources-set -----------------------------------------------------------------------------

const RESOURCE_FIELDS = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"] as const;

export function resourceProblems(m: Manifest): string[] {
    const spec = podSpec(m);
    if (isUnknown(spec)) return [];
    return containersOf(spec, ["initContainers", "containers"]).flatMap(({ label, container }) => {
        const resources = get(container, "resources");
        if (isUnknown(resources)) return [];
        const missing = RESOURCE_FIELDS.filter((f) => {
            const v = get(resources, ...f.split("."));
            return v === undefined || v === null || v === "";
        });
        if (missing.length === 0) return [];
        return [
            `${subject(m)} ${label} sets no ${missing.map((f) => `resources.${f}`).join(", ")}: without requests the scheduler overcommits the node, ` +
                `without limits one pod can starve its neighbours. Fix: set them (this program: cpuRequest, memoryRequest, cpuLimit, memoryLimit).`,
        ];
    });
}

export const resourcesSet: ResourceCheck<object> = {
    name: "resources-set",
    description: "Every container sets CPU and memory requests and limits, so the scheduler places pods on real capacity and one pod cannot starve a node.",
    kinds: WORKLOAD_KINDS,
    check: (m) => resourceProblems(m),
};

// --- restricted-security-context ---------------------------------------------------------------

/** Fields of Pod Security `restricted` (plus a read-only root), with the value that fixes each. */
export function securityContextProblems(m: Manifest): string[] {
    const spec = podSpec(m);
    if (isUnknown(spec) || spec === undefined) return [];
    const who = subject(m);
    const out: string[] = [];
    const podCtx = get(spec, "securityContext");

    const podIssues: [string, string][] = [];
    for (const host of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (get(spec, host) === true) podIssues.push([`${host} is true`, `${host}: false`]);
    }
    const hostPaths = list(get(spec, "volumes"));
    if (!isUnknown(hostPaths)) {
        for (const v of hostPaths)
            if (isObject(get(v, "hostPath")))
                podIssues.push([`volume ${JSON.stringify(get(v, "name"))} is a hostPath`, "an emptyDir or a PersistentVolumeClaim instead"]);
    }
    if (podIssues.length > 0) {
        out.push(
            `${who} pod spec breaks Pod Security "restricted": ${podIssues.map(([p]) => p).join(", ")}. Fix: use ${podIssues.map(([, f]) => f).join(", ")}.`,
        );
    }

    for (const { label, container } of containersOf(spec)) {
        const ctx = get(container, "securityContext");
        if (isUnknown(ctx) || isUnknown(podCtx)) continue;
        const issues: [string, string][] = [];
        const either = (field: string) => {
            const own = get(ctx, field);
            return own !== undefined ? own : get(podCtx, field);
        };
        const check = (bad: boolean | "skip", problem: string, fix: string) => {
            if (bad === true) issues.push([problem, fix]);
        };
        const nonRoot = either("runAsNonRoot");
        check(!isUnknown(nonRoot) && nonRoot !== true, "runAsNonRoot is not true", "runAsNonRoot: true");
        const user = either("runAsUser");
        check(user === 0, "runAsUser is 0 (root)", "runAsUser: a non-zero uid such as 10001");
        const escalation = get(ctx, "allowPrivilegeEscalation");
        check(!isUnknown(escalation) && escalation !== false, "allowPrivilegeEscalation is not false", "allowPrivilegeEscalation: false");
        check(get(ctx, "privileged") === true, "privileged is true", "privileged: false");
        const drop = list(get(ctx, "capabilities", "drop"));
        check(!isUnknown(drop) && !drop.includes("ALL"), 'capabilities.drop lacks "ALL"', 'capabilities.drop: ["ALL"]');
        const add = list(get(ctx, "capabilities", "add"));
        const extra = isUnknown(add) ? [] : add.filter((c) => c !== "NET_BIND_SERVICE");
        check(extra.length > 0, `capabilities.add has ${extra.map((c) => JSON.stringify(c)).join(", ")}`, 'capabilities.add: at most ["NET_BIND_SERVICE"]');
        const seccomp = either("seccompProfile");
        const seccompType = get(seccomp, "type");
        check(
            !isUnknown(seccompType) && seccompType !== "RuntimeDefault" && seccompType !== "Localhost",
            "seccompProfile.type is not RuntimeDefault",
            'seccompProfile: {type: "RuntimeDefault"}',
        );
        const readOnly = get(ctx, "readOnlyRootFilesystem");
        check(!isUnknown(readOnly) && readOnly !== true, "readOnlyRootFilesystem is not true", "readOnlyRootFilesystem: true (with an emptyDir for /tmp)");
        if (issues.length > 0) {
            out.push(
                `${who} ${label} does not meet the restricted security context: ${issues.map(([p]) => p).join(", ")}. ` +
                    `Admission rejects such pods in a restricted namespace, so the rollout never finishes. ` +
                    `Fix: set securityContext ${issues.map(([, f]) => f).join(", ")} (components/app.ts deploymentManifest has the full set).`,
            );
        }
    }
    return out;
}

export const restrictedSecurityContext: ResourceCheck<object> = {
    name: "restricted-security-context",
    description:
        'Pods meet Pod Security "restricted" (non-root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, no host ' +
        "namespaces or hostPath) and a read-only root filesystem. Admission rejects Pods, not Deployments, so a violation shows up only as a rollout that never finishes.",
    kinds: WORKLOAD_KINDS,
    check: (m) => securityContextProblems(m),
};

// --- probes-present ----------------------------------------------------------------------------

export function probeProblems(m: Manifest): string[] {
    const spec = podSpec(m);
    if (isUnknown(spec)) return [];
    return containersOf(spec, ["containers"]).flatMap(({ label, container }) => {
        const readiness = get(container, "readinessProbe");
        const liveness = get(container, "livenessProbe");
        const why: string[] = [];
        const missing: string[] = [];
        if (readiness === undefined) {
            missing.push("readinessProbe");
            why.push("without readiness, traffic reaches pods that are not ready and a broken rollout looks healthy");
        }
        if (liveness === undefined) {
            missing.push("livenessProbe");
            why.push("without liveness, a hung process is never restarted");
        }
        if (missing.length === 0) return [];
        return [
            `${subject(m)} ${label} has no ${missing.join(" and no ")}: ${why.join("; ")}. Fix: add httpGet probes on the app's health endpoint (e.g. /healthz on the http port).`,
        ];
    });
}

export const probesPresent: ResourceCheck<object> = {
    name: "probes-present",
    description: "Long-running containers have readiness and liveness probes: readiness gates traffic and rollouts, liveness restarts a hung process.",
    kinds: LONG_RUNNING_KINDS,
    check: (m) => probeProblems(m),
};
