// The app: what runs (image, port, replicas, Service type), composed with its resources, its
// plain env and flags, and its secrets into the one AppConfig the builders take.
import { ENVIRONMENT_RULES } from "../environments";
import { imageProblems } from "../image";
import { type ConfigReader, PROJECT, show } from "../reader";
import { type EnvFlagsConfig, flagEnvName, validateEnvFlags } from "./envFlags";
import type { Identity } from "./identity";
import { type ResourcesConfig, validateResources } from "./resources";
import { validateSecrets } from "./secrets";

export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;

/**
 * The rollout wait: the default, and its bounds. Under 10 s no real pod can pull, start and pass
 * its readiness probe; past an hour a stuck rollout holds the update (and its lock) for nothing.
 */
export const ROLLOUT_TIMEOUT = { fallback: "10m", minMs: 10_000, maxMs: 60 * 60_000 } as const;

export interface WorkloadConfig {
    readonly image: string;
    readonly port: number;
    readonly replicas: number;
    readonly serviceType: (typeof SERVICE_TYPES)[number];
    /** How long `up` waits for the Deployment's rollout before failing with the pods' reasons. */
    readonly rolloutTimeoutMs: number;
}

export interface AppConfig extends WorkloadConfig, EnvFlagsConfig {
    readonly name: string;
    readonly resources: ResourcesConfig;
    /** Names of secret config keys mounted into the app's Secret, one env var each. */
    readonly secretEnv: readonly string[];
}

/** Keys: image, port, replicas, serviceType, rolloutTimeout. */
export function validateWorkload(read: ConfigReader, id: Identity): WorkloadConfig {
    const { environment } = id;
    const rules = ENVIRONMENT_RULES[environment];
    const example = rules.requireImageDigest ? "registry.example.com/app:1.2.3@sha256:<digest>" : "registry.example.com/app:1.2.3";
    const image = read.required("image", "an image reference such as registry/app:1.2.3 or registry/app@sha256:<digest>", example);
    if (image !== undefined) {
        for (const p of imageProblems(image, environment)) read.problem(`${PROJECT}:image: ${p} Fix: ${read.fix("image", example)}`);
    }
    const port = read.int("port", { fallback: 8080, min: 1, max: 65535 });
    const replicas = read.int("replicas", { fallback: rules.minReplicas, min: rules.minReplicas, max: 1000, why: ` (${environment} runs at least ${rules.minReplicas})` });
    if (!read.has("replicas")) {
        read.problem(
            `${PROJECT}:replicas is required and missing. Allowed: an integer from ${rules.minReplicas} to 1000 for ${environment}. Fix: ${read.fix("replicas", String(rules.minReplicas))}`,
        );
    }
    const serviceType = read.string("serviceType", "ClusterIP");
    if (!(SERVICE_TYPES as readonly string[]).includes(serviceType)) {
        read.problem(`${PROJECT}:serviceType: ${show(serviceType)} is not allowed. Allowed: ${SERVICE_TYPES.join(", ")}. Fix: ${read.fix("serviceType", "ClusterIP")}`);
    }
    const rolloutTimeoutMs = read.duration("rolloutTimeout", ROLLOUT_TIMEOUT);
    return { image: image ?? "", port, replicas, serviceType: serviceType as WorkloadConfig["serviceType"], rolloutTimeoutMs };
}

/** The app group: workload, resources, env and flags, secrets; and names none of them may share. */
export function validateApp(read: ConfigReader, id: Identity): AppConfig {
    const workload = validateWorkload(read, id);
    const resources = validateResources(read);
    const envFlags = validateEnvFlags(read);
    const secretEnv = validateSecrets(read);
    // One env var, two sources: the Secret (mounted after the ConfigMap) would silently win.
    const plain = new Set([...Object.keys(envFlags.env), ...Object.keys(envFlags.featureFlags).map(flagEnvName)]);
    for (const name of secretEnv.filter((n) => plain.has(n))) {
        read.problem(
            `${PROJECT}:secretEnv: ${name} is also a plain env var or flag, so the Secret would silently replace it. Fix: pulumi config rm --path 'env.${name}' -s ${read.stack}, or rename one of them`,
        );
    }
    return { name: id.appName, ...workload, resources, ...envFlags, secretEnv };
}
