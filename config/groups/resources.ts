// Resources: CPU and memory requests and limits, as Kubernetes quantities, each request within
// its limit (the API server refuses the Deployment otherwise, after the namespace and the
// policies were already created).
import { parseQuantity } from "../quantity";
import { type ConfigReader, PROJECT, show } from "../reader";

export interface ResourcesConfig {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
}

export const RESOURCE_DEFAULTS = { cpuRequest: "100m", cpuLimit: "500m", memoryRequest: "128Mi", memoryLimit: "256Mi" } as const;

type Key = keyof typeof RESOURCE_DEFAULTS;

const ALLOWED = {
    cpu: "a Kubernetes quantity of cores, e.g. 250m, 0.5, .5 or 2 (suffixes are case-sensitive)",
    memory: "a Kubernetes quantity of bytes, e.g. 128Mi, 1.5Gi, 128k or 1G (suffixes are case-sensitive)",
};

/** Keys: cpuRequest, cpuLimit, memoryRequest, memoryLimit. */
export function validateResources(read: ConfigReader): ResourcesConfig {
    const values = new Map<Key, number>();
    const quantity = (key: Key, kind: "cpu" | "memory"): string => {
        const fallback = RESOURCE_DEFAULTS[key];
        const v = read.value(key);
        if (v === undefined) {
            values.set(key, parseQuantity(fallback)!);
            return fallback;
        }
        const text = typeof v === "number" ? String(v) : v;
        const n = typeof text === "string" ? parseQuantity(text) : undefined;
        if (n === undefined || typeof text !== "string") {
            read.problem(`${PROJECT}:${key}: ${show(v)} is not a quantity. Allowed: ${ALLOWED[kind]}. Fix: ${read.fix(key, fallback)}`);
        } else if (n <= 0) {
            read.problem(`${PROJECT}:${key}: ${show(v)} is not allowed. Allowed: more than 0. Fix: ${read.fix(key, fallback)}`);
        } else if (kind === "memory" && !Number.isInteger(n)) {
            // `m` is milli: 128m of memory is 0.128 bytes, never what was meant.
            const meant = /^(\d+)m$/.exec(text)?.[1];
            read.problem(
                `${PROJECT}:${key}: ${show(v)} is ${n} bytes, not a whole number of bytes ('m' means milli). Allowed: ${ALLOWED.memory}. Fix: ${read.fix(key, meant ? `${meant}Mi` : fallback)}`,
            );
        } else {
            values.set(key, n);
            return text;
        }
        return fallback;
    };
    const resources: ResourcesConfig = {
        requests: { cpu: quantity("cpuRequest", "cpu"), memory: quantity("memoryRequest", "memory") },
        limits: { cpu: quantity("cpuLimit", "cpu"), memory: quantity("memoryLimit", "memory") },
    };
    const withinLimit = (request: Key, limit: Key, given: { request: string; limit: string }) => {
        const r = values.get(request);
        const l = values.get(limit);
        if (r === undefined || l === undefined || r <= l) return;
        const why = "the API server refuses a container whose request exceeds its limit. Allowed: a request at most its limit.";
        // Named after the key the stack set, the other one being the default.
        if (read.has(request) || !read.has(limit)) {
            const note = read.has(limit) ? "" : " (the default)";
            read.problem(
                `${PROJECT}:${request}: ${show(given.request)} is more than ${limit} ${show(given.limit)}${note}; ${why} ` +
                    `Fix: ${read.fix(limit, given.request)}, or ${read.fix(request, given.limit)}`,
            );
        } else {
            read.problem(
                `${PROJECT}:${limit}: ${show(given.limit)} is less than ${request} ${show(given.request)} (the default); ${why} ` +
                    `Fix: ${read.fix(request, given.limit)}, or ${read.fix(limit, given.request)}`,
            );
        }
    };
    withinLimit("cpuRequest", "cpuLimit", { request: resources.requests.cpu, limit: resources.limits.cpu });
    withinLimit("memoryRequest", "memoryLimit", { request: resources.requests.memory, limit: resources.limits.memory });
    return resources;
}
