// Validates a stack's raw configuration into a typed EnvironmentConfig, reporting every problem
// at once. Pure: it sees plain values and which keys are secret, never pulumi.Config, so the
// program, the CLI and the tests share one set of rules.
import { ENVIRONMENTS, ENVIRONMENT_RULES, EnvironmentName, isEnvironmentName } from "./environments";

export const PROJECT = "env-progression";

export interface RawConfig {
    /** Values by key (without the `env-progression:` namespace), as the stack file holds them. */
    readonly values: Readonly<Record<string, unknown>>;
    /** Keys whose value is a Pulumi secret (`secure:` in the stack file). */
    readonly secretKeys: ReadonlySet<string>;
}

export interface EgressRule {
    readonly cidr: string;
    readonly port: number | undefined;
    readonly protocol: "TCP" | "UDP";
}

export interface AppConfig {
    readonly name: string;
    readonly image: string;
    readonly port: number;
    readonly replicas: number;
    readonly resources: {
        readonly requests: { readonly cpu: string; readonly memory: string };
        readonly limits: { readonly cpu: string; readonly memory: string };
    };
    /** Plain environment variables, also stored in the app's ConfigMap. */
    readonly env: Readonly<Record<string, string>>;
    /** Feature flags, stored in the ConfigMap as FLAG_<NAME>=true|false. */
    readonly featureFlags: Readonly<Record<string, boolean>>;
    /** Names of secret config keys mounted into the app's Secret, one env var each. */
    readonly secretEnv: readonly string[];
    readonly serviceType: "ClusterIP" | "NodePort" | "LoadBalancer";
    /** How long `up` waits for the Deployment's rollout before failing with the pods' reasons. */
    readonly rolloutTimeoutMs: number;
}

export interface SmokeConfig {
    /** Where the checks send requests; defaults to the Service's in-cluster URL. */
    readonly baseUrl: string;
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly passes: number;
    /** A JSON file of checks replacing the default set, relative to the project. */
    readonly checksFile: string | undefined;
    /** A shell command run instead of the HTTP checks (command mode). */
    readonly command: string | undefined;
    readonly runOnEveryUp: boolean;
}

export interface EnvironmentConfig {
    readonly stack: string;
    readonly environment: EnvironmentName;
    readonly namespace: string;
    readonly cluster: {
        /** The kubeconfig context this stack may deploy to, and only that one. */
        readonly context: string;
        /** If set, the API server URL that context must point at. */
        readonly server: string | undefined;
        /** Kubeconfig file; defaults to $KUBECONFIG, then ~/.kube/config. */
        readonly kubeconfig: string | undefined;
    };
    readonly app: AppConfig;
    readonly network: {
        readonly ingressNamespace: string;
        readonly egress: readonly EgressRule[];
    };
    readonly smoke: SmokeConfig;
}

export class ConfigError extends Error {
    override name = "ConfigError";
    readonly stackName: string;
    readonly problems: readonly string[];
    constructor(stack: string, problems: readonly string[]) {
        super(
            `stack '${stack}' has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.stackName = stack;
        this.problems = problems;
    }
}

/** Every key the program reads; Pulumi.yaml declares the same set with types and defaults. */
export const KNOWN_KEYS: readonly string[] = [
    "environment", "allowStackMismatch", "namespace", "kubeContext", "kubeServer", "kubeconfig",
    "appName", "image", "port", "replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit",
    "env", "featureFlags", "secretEnv", "serviceType", "rolloutTimeout", "ingressNamespace", "egress",
    "smokeBaseUrl", "smokeTimeout", "smokeDeadline", "smokeInterval", "smokePasses", "smokeChecksFile",
    "smokeCommand", "smokeEveryUp",
];

/** A name that says it holds a secret; config validation and the policy pack share it. */
export const SECRET_NAME = /(password|passwd|secret|token|api_?key|private_?key|credential|access_?key)/i;

const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FLAG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const CPU = /^(\d+m|\d+(\.\d+)?)$/;
const MEMORY = /^\d+(Ki|Mi|Gi|Ti|K|M|G|T)?$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

/** Parses `500ms`, `5s`, `2m` into milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
    const m = DURATION.exec(text.trim());
    if (!m) return undefined;
    const n = Number(m[1]);
    return Math.round(n * (m[2] === "m" ? 60_000 : m[2] === "s" ? 1000 : 1));
}

/**
 * Validates raw stack config. Throws one ConfigError listing every problem, each naming the key,
 * the value seen, what is allowed and the command that fixes it.
 */
export function validateConfig(raw: RawConfig, stack: string): EnvironmentConfig {
    const problems: string[] = [];
    const set = (key: string, example: string, secret = false) =>
        `pulumi config set${secret ? " --secret" : ""} ${key} ${example} -s ${stack}`;
    const show = (v: unknown) => JSON.stringify(v);

    const has = (key: string) => raw.values[key] !== undefined && raw.values[key] !== "";
    const plainKeys = Object.keys(raw.values);


    const str = (key: string, fallback?: string): string | undefined => {
        const v = raw.values[key];
        if (v === undefined || v === "") {
            return fallback;
        }
        if (typeof v !== "string") {
            problems.push(`${PROJECT}:${key}: ${show(v)} is not a string. Fix: ${set(key, "<value>")}`);
            return fallback;
        }
        return v;
    };
    const required = (key: string, allowed: string, example: string): string | undefined => {
        if (!has(key)) {
            problems.push(`${PROJECT}:${key} is required and missing. Allowed: ${allowed}. Fix: ${set(key, example)}`);
            return undefined;
        }
        return str(key);
    };
    const int = (key: string, fallback: number, min: number, max: number, why = ""): number => {
        const v = raw.values[key];
        if (v === undefined || v === "") return fallback;
        const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            // Config from the engine arrives as text; show "1" as 1, as the user typed it.
            const seen = typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim()) ? v.trim() : show(v);
            problems.push(
                `${PROJECT}:${key}: ${seen} is not allowed. Allowed: an integer from ${min} to ${max}${why}. ` +
                    `Fix: ${set(key, String(Math.max(min, Math.min(max, fallback))))}`,
            );
            return fallback;
        }
        return n;
    };
    const bool = (key: string, fallback: boolean): boolean => {
        const v = raw.values[key];
        if (v === undefined || v === "") return fallback;
        if (typeof v === "boolean") return v;
        if (v === "true" || v === "false") return v === "true";
        problems.push(`${PROJECT}:${key}: ${show(v)} is not a boolean. Allowed: true or false. Fix: ${set(key, "true")}`);
        return fallback;
    };
    const duration = (key: string, fallback: string): number => {
        const text = str(key, fallback) ?? fallback;
        const ms = parseDurationMs(text);
        if (ms === undefined || ms <= 0) {
            problems.push(
                `${PROJECT}:${key}: ${show(text)} is not a duration. Allowed: a positive number with ms, s or m (e.g. 5s). ` +
                    `Fix: ${set(key, fallback)}`,
            );
            return parseDurationMs(fallback) ?? 1000;
        }
        return ms;
    };
    const object = (key: string): Record<string, unknown> => {
        let v = raw.values[key];
        if (v === undefined || v === "") return {};
        if (typeof v === "string") {
            try {
                v = JSON.parse(v);
            } catch {
                /* reported below */
            }
        }
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            problems.push(`${PROJECT}:${key}: ${show(raw.values[key])} is not a map. Allowed: an object of name: value. Fix: ${set(`--path '${key}.NAME'`, "<value>")}`);
            return {};
        }
        return v as Record<string, unknown>;
    };
    const list = (key: string): unknown[] => {
        let v = raw.values[key];
        if (v === undefined || v === "") return [];
        if (typeof v === "string") {
            try {
                v = JSON.parse(v);
            } catch {
                /* reported below */
            }
        }
        if (!Array.isArray(v)) {
            problems.push(`${PROJECT}:${key}: ${show(raw.values[key])} is not a list. Allowed: a YAML list. Fix: ${set(`--path '${key}[0]'`, "<value>")}`);
            return [];
        }
        return v;
    };

    // --- identity -------------------------------------------------------------------------
    const envRaw = required("environment", ENVIRONMENTS.join(" | "), isEnvironmentName(stack) ? stack : "dev");
    let environment: EnvironmentName = "dev";
    if (envRaw !== undefined) {
        if (isEnvironmentName(envRaw)) {
            environment = envRaw;
        } else {
            const near = ENVIRONMENTS.find((e) => e === envRaw.toLowerCase() || (envRaw.length > 1 && e.startsWith(envRaw.toLowerCase().slice(0, 2))));
            problems.push(
                `${PROJECT}:environment: ${show(envRaw)} is not an environment. Allowed: ${ENVIRONMENTS.join(", ")} (lower case). ` +
                    `Fix: ${set("environment", near ?? "dev")}`,
            );
        }
    }
    const allowMismatch = bool("allowStackMismatch", false);
    if (envRaw !== undefined && isEnvironmentName(envRaw) && envRaw !== stack && !allowMismatch) {
        problems.push(
            `${PROJECT}:environment: ${show(envRaw)} does not match the stack name ${show(stack)}. A stack deploys the environment it is named after. ` +
                `Fix: select the stack named ${show(envRaw)}, or if this stack is deliberately named otherwise (e.g. a preview stack), ${set("allowStackMismatch", "true")}`,
        );
    }
    const rules = ENVIRONMENT_RULES[environment];

    // --- app ------------------------------------------------------------------------------
    const appName = str("appName", "web") ?? "web";
    if (!RFC1123_LABEL.test(appName) || appName.length > 40) {
        problems.push(`${PROJECT}:appName: ${show(appName)} is not allowed. Allowed: lower-case letters, digits and '-', at most 40 characters, starting and ending alphanumeric. Fix: ${set("appName", "web")}`);
    }
    const namespace = str("namespace", `${appName}-${environment}`) ?? `${appName}-${environment}`;
    if (!RFC1123_LABEL.test(namespace) || namespace.length > 63) {
        problems.push(
            `${PROJECT}:namespace: ${show(namespace)} is not a valid namespace name. Allowed: an RFC 1123 label (lower-case letters, digits and '-', at most 63 characters, starting and ending alphanumeric). ` +
                `Fix: ${set("namespace", `${appName}-${environment}`)}`,
        );
    }
    if (["default", "kube-system", "kube-public", "kube-node-lease"].includes(namespace)) {
        problems.push(`${PROJECT}:namespace: ${show(namespace)} is a system namespace; an environment needs a namespace of its own. Fix: ${set("namespace", `${appName}-${environment}`)}`);
    }

    const image = required("image", "an image reference such as registry/app:1.2.3 or registry/app@sha256:<digest>", "registry.example.com/app:1.2.3");
    if (image !== undefined) {
        problems.push(...imageProblems(image, environment).map((p) => `${PROJECT}:image: ${p} Fix: ${set("image", "registry.example.com/app:1.2.3@sha256:<digest>")}`));
    }
    const port = int("port", 8080, 1, 65535);
    const replicas = int("replicas", rules.minReplicas, rules.minReplicas, 1000, ` (${environment} runs at least ${rules.minReplicas})`);
    if (!has("replicas")) {
        problems.push(`${PROJECT}:replicas is required and missing. Allowed: an integer from ${rules.minReplicas} to 1000 for ${environment}. Fix: ${set("replicas", String(rules.minReplicas))}`);
    }

    const quantity = (key: string, fallback: string, re: RegExp, allowed: string): string => {
        const v = str(key, fallback) ?? fallback;
        if (!re.test(v)) {
            problems.push(`${PROJECT}:${key}: ${show(v)} is not a quantity. Allowed: ${allowed}. Fix: ${set(key, fallback)}`);
            return fallback;
        }
        return v;
    };
    const resources = {
        requests: {
            cpu: quantity("cpuRequest", "100m", CPU, "millicores like 250m or cores like 0.5"),
            memory: quantity("memoryRequest", "128Mi", MEMORY, "bytes with a suffix like 128Mi or 1Gi"),
        },
        limits: {
            cpu: quantity("cpuLimit", "500m", CPU, "millicores like 250m or cores like 0.5"),
            memory: quantity("memoryLimit", "256Mi", MEMORY, "bytes with a suffix like 128Mi or 1Gi"),
        },
    };

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(object("env"))) {
        if (!ENV_VAR_NAME.test(k)) {
            problems.push(`${PROJECT}:env.${k}: ${show(k)} is not an environment variable name. Allowed: letters, digits and '_', not starting with a digit. Fix: rename it in Pulumi.${stack}.yaml`);
        } else if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
            problems.push(`${PROJECT}:env.${k}: ${show(v)} is not a scalar. Allowed: a string, number or boolean. Fix: pulumi config set --path 'env.${k}' <value> -s ${stack}`);
        } else if (SECRET_NAME.test(k)) {
            problems.push(
                `${PROJECT}:env.${k}: looks like a secret but is plain config (stored readable in Pulumi.${stack}.yaml and the ConfigMap). ` +
                    `Fix: pulumi config rm --path 'env.${k}' -s ${stack} && pulumi config set --secret ${k} <value> -s ${stack}, and add ${k} to secretEnv`,
            );
        } else {
            env[k] = String(v);
        }
    }

    const featureFlags: Record<string, boolean> = {};
    for (const [k, v] of Object.entries(object("featureFlags"))) {
        if (!FLAG_NAME.test(k)) {
            problems.push(`${PROJECT}:featureFlags.${k}: ${show(k)} is not a flag name. Allowed: a letter, then letters, digits or '_'. Fix: rename it in Pulumi.${stack}.yaml`);
        } else if (typeof v === "boolean" || v === "true" || v === "false") {
            featureFlags[k] = v === true || v === "true";
        } else {
            problems.push(`${PROJECT}:featureFlags.${k}: ${show(v)} is not a boolean. Allowed: true or false. Fix: pulumi config set --path 'featureFlags.${k}' true -s ${stack}`);
        }
    }

    const secretEnv: string[] = [];
    for (const name of list("secretEnv")) {
        if (typeof name !== "string" || !ENV_VAR_NAME.test(name)) {
            problems.push(`${PROJECT}:secretEnv: ${show(name)} is not an environment variable name. Allowed: letters, digits and '_'. Fix: edit secretEnv in Pulumi.${stack}.yaml`);
            continue;
        }
        secretEnv.push(name);
        if (!has(name)) {
            problems.push(`${PROJECT}:${name} is a secret the app needs (listed in secretEnv) but is not set for stack '${stack}'. Fix: ${set(name, "<value>", true)}`);
        } else if (!raw.secretKeys.has(name)) {
            problems.push(
                `${PROJECT}:${name} is stored in plaintext in Pulumi.${stack}.yaml, but it is a secret (listed in secretEnv). ` +
                    `Fix: ${set(name, "<value>", true)} (this encrypts it), and rotate the value: it was readable in the file`,
            );
        }
    }
    for (const key of plainKeys) {
        if (KNOWN_KEYS.includes(key) || secretEnv.includes(key)) continue;
        if (SECRET_NAME.test(key) && !raw.secretKeys.has(key)) {
            problems.push(`${PROJECT}:${key}: looks like a secret but is stored in plaintext. Fix: ${set(key, "<value>", true)} and add it to secretEnv`);
        } else if (!raw.secretKeys.has(key)) {
            const near = KNOWN_KEYS.find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 4)));
            problems.push(
                `${PROJECT}:${key} is not a key this program reads (a typo is silently ignored otherwise). Allowed: ${KNOWN_KEYS.join(", ")}, or a secret named in secretEnv. ` +
                    `Fix: pulumi config rm ${key} -s ${stack}${near ? ` (did you mean ${near}?)` : ""}`,
            );
        }
    }

    const serviceType = str("serviceType", "ClusterIP") ?? "ClusterIP";
    if (serviceType !== "ClusterIP" && serviceType !== "NodePort" && serviceType !== "LoadBalancer") {
        problems.push(`${PROJECT}:serviceType: ${show(serviceType)} is not allowed. Allowed: ClusterIP, NodePort, LoadBalancer. Fix: ${set("serviceType", "ClusterIP")}`);
    }

    const rolloutTimeoutMs = duration("rolloutTimeout", "10m");

    // --- cluster --------------------------------------------------------------------------
    const context = required("kubeContext", "the name of a context in your kubeconfig", `<${environment}-context>`);
    const server = str("kubeServer");
    if (server !== undefined && !isUrl(server, ["https:", "http:"])) {
        problems.push(`${PROJECT}:kubeServer: ${show(server)} is not a URL. Allowed: the API server URL of the context, e.g. https://10.0.0.1:6443. Fix: ${set("kubeServer", "https://<api-server>:6443")}`);
    }
    const kubeconfig = str("kubeconfig");

    // --- network --------------------------------------------------------------------------
    const ingressNamespace = str("ingressNamespace", "ingress-nginx") ?? "ingress-nginx";
    if (!RFC1123_LABEL.test(ingressNamespace)) {
        problems.push(`${PROJECT}:ingressNamespace: ${show(ingressNamespace)} is not a namespace name. Allowed: an RFC 1123 label. Fix: ${set("ingressNamespace", "ingress-nginx")}`);
    }
    const egress: EgressRule[] = [];
    for (const item of list("egress")) {
        const rule = typeof item === "string" ? parseEgress(item) : undefined;
        if (!rule) {
            problems.push(
                `${PROJECT}:egress: ${show(item)} is not an egress rule. Allowed: "CIDR", "CIDR:PORT" or "CIDR:PORT/UDP", e.g. "10.20.0.0/16:5432". ` +
                    `Fix: pulumi config set --path 'egress[0]' 10.20.0.0/16:5432 -s ${stack}`,
            );
        } else {
            egress.push(rule);
        }
    }

    // --- smoke ----------------------------------------------------------------------------
    const defaultUrl = `http://${appName}.${namespace}.svc.cluster.local:${port}`;
    const baseUrl = str("smokeBaseUrl", defaultUrl) ?? defaultUrl;
    if (!isUrl(baseUrl, ["http:", "https:"])) {
        problems.push(`${PROJECT}:smokeBaseUrl: ${show(baseUrl)} is not an http(s) URL. Allowed: e.g. https://app.staging.example.com. Fix: ${set("smokeBaseUrl", "https://<host>")}`);
    }
    const timeoutMs = duration("smokeTimeout", "5s");
    const deadlineMs = duration("smokeDeadline", "120s");
    if (timeoutMs > deadlineMs) {
        problems.push(`${PROJECT}:smokeTimeout: ${timeoutMs}ms is longer than smokeDeadline (${deadlineMs}ms); a request could outlive the whole check. Allowed: a timeout shorter than the deadline. Fix: ${set("smokeTimeout", "5s")}`);
    }
    const smoke: SmokeConfig = {
        baseUrl,
        timeoutMs,
        deadlineMs,
        intervalMs: duration("smokeInterval", "1s"),
        passes: int("smokePasses", 3, 1, 20),
        checksFile: str("smokeChecksFile"),
        command: str("smokeCommand"),
        runOnEveryUp: bool("smokeEveryUp", false),
    };

    if (problems.length > 0) {
        throw new ConfigError(stack, problems);
    }
    return {
        stack,
        environment,
        namespace,
        cluster: { context: context!, server, kubeconfig },
        app: { name: appName, image: image!, port, replicas, resources, env, featureFlags, secretEnv, serviceType: serviceType as AppConfig["serviceType"], rolloutTimeoutMs },
        network: { ingressNamespace, egress },
        smoke,
    };
}

/** What is wrong with an image reference for an environment; empty when it is acceptable. */
export function imageProblems(image: string, environment: EnvironmentName): string[] {
    const rules = ENVIRONMENT_RULES[environment];
    const { tag, digest } = parseImage(image);
    const problems: string[] = [];
    if (/\s/.test(image) || image.length === 0) {
        return [`${JSON.stringify(image)} is not an image reference.`];
    }
    if (rules.requireImageTag && digest === undefined && (tag === undefined || tag === "latest")) {
        problems.push(
            `${JSON.stringify(image)} is ${tag === "latest" ? "tagged latest" : "untagged (which means latest)"}; ${environment} must run an exact version. Allowed: an explicit version tag${rules.requireImageDigest ? " and a digest" : " or a digest"}.`,
        );
    } else if (rules.requireImageDigest && digest === undefined) {
        problems.push(`${JSON.stringify(image)} has no digest; ${environment} runs exactly the bytes staging verified. Allowed: name:tag@sha256:<64 hex>.`);
    }
    if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
        problems.push(`${JSON.stringify(image)} has a malformed digest ${JSON.stringify(digest)}. Allowed: sha256: followed by 64 lower-case hex digits.`);
    }
    return problems;
}

/** Splits an image reference into name, tag and digest (a registry port is not a tag). */
export function parseImage(image: string): { name: string; tag: string | undefined; digest: string | undefined } {
    const at = image.indexOf("@");
    const digest = at >= 0 ? image.slice(at + 1) : undefined;
    const rest = at >= 0 ? image.slice(0, at) : image;
    const slash = rest.lastIndexOf("/");
    const colon = rest.lastIndexOf(":");
    const tag = colon > slash ? rest.slice(colon + 1) : undefined;
    return { name: colon > slash ? rest.slice(0, colon) : rest, tag, digest };
}

function parseEgress(text: string): EgressRule | undefined {
    const m = /^([0-9a-fA-F.:]+\/\d{1,3})(?::(\d{1,5})(?:\/(TCP|UDP))?)?$/.exec(text.trim());
    if (!m) return undefined;
    const [ip, bits] = m[1]!.split("/") as [string, string];
    const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && ip.split(".").every((o) => Number(o) <= 255) && Number(bits) <= 32;
    const v6 = ip.includes(":") && Number(bits) <= 128;
    const port = m[2] === undefined ? undefined : Number(m[2]);
    if ((!v4 && !v6) || (port !== undefined && (port < 1 || port > 65535))) return undefined;
    return { cidr: m[1]!, port, protocol: (m[3] as "TCP" | "UDP" | undefined) ?? "TCP" };
}

function isUrl(text: string, protocols: string[]): boolean {
    try {
        return protocols.includes(new URL(text).protocol);
    } catch {
        return false;
    }
}
