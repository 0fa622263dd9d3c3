// Validates a stack's raw configuration into a typed EnvironmentConfig, reporting every problem
// at once. Pure: it sees plain values (and, where the caller can tell, which are secret), never
// pulumi.Config, so the program, the CLI and the tests share one set of rules.
//
// Each group of keys has its own small validator in config/groups/. The shape of one:
//
//     (read: ConfigReader, id: Identity) => Slice
//
// It reads its keys only through `read` (read.string, read.int, read.duration, read.list, ...),
// which returns a typed value or the fallback and records each problem (key, value seen, what
// is allowed, the command that fixes it) instead of throwing; cross-key rules add theirs with
// read.problem(...). `id` is what the identity group decided first: the stack, its environment
// (whose rules, in config/environments.ts, most checks depend on) and the app's names. A group
// never throws for bad input: validateConfig throws one ConfigError with every problem.
//
// Plugging in a group is one line in GROUPS below: its slice then appears, typed, as
// EnvironmentConfig[<name>]. Its keys go in KNOWN_KEYS and Pulumi.yaml (a test holds the three
// in step).
import type { EnvironmentName } from "./environments";
import { validateApp } from "./groups/app";
import { validateCluster } from "./groups/cluster";
import { SECRET_NAME } from "./groups/envFlags";
import { type Identity, validateIdentity } from "./groups/identity";
import { MIGRATION_KEYS, validateMigration } from "./groups/migration";
import { validateNetwork } from "./groups/network";
import { validatePromotion } from "./groups/promotion";
import { validateRelease } from "./groups/release";
import { validateSmoke } from "./groups/smoke";
import { ConfigError, ConfigReader, PROJECT, type RawConfig } from "./reader";

export { ConfigError, ConfigReader, parseDurationMs, PROJECT, type RawConfig } from "./reader";
export { imageProblems, parseImage } from "./image";
export { SECRET_NAME } from "./groups/envFlags";
export type { AppConfig } from "./groups/app";
export type { ClusterConfig } from "./groups/cluster";
export type { Identity } from "./groups/identity";
export type { MigrationConfig } from "./groups/migration";
export type { EgressRule, NetworkConfig } from "./groups/network";
export type { PromotionConfig, PromotionOverride } from "./groups/promotion";
export type { ReleaseConfig } from "./groups/release";
export type { ResourcesConfig } from "./groups/resources";
export type { SmokeConfig } from "./groups/smoke";

/** A group validator; see the top of this file. */
export type GroupValidator<T> = (read: ConfigReader, id: Identity) => T;

/** The groups after identity, in report order. One line each: `name: validator`. */
const GROUPS = {
    app: validateApp,
    cluster: validateCluster,
    network: validateNetwork,
    smoke: validateSmoke,
    promotion: validatePromotion,
    release: validateRelease,
    migration: validateMigration,
} satisfies Record<string, GroupValidator<unknown>>;

type Groups = { readonly [K in keyof typeof GROUPS]: ReturnType<(typeof GROUPS)[K]> };

export interface EnvironmentConfig extends Groups {
    readonly stack: string;
    readonly environment: EnvironmentName;
    readonly namespace: string;
}

/** Every key the program reads; Pulumi.yaml declares the same set with defaults. */
export const KNOWN_KEYS: readonly string[] = [
    "environment", "allowStackMismatch", "namespace", "kubeContext", "kubeServer", "kubeconfig",
    "appName", "image", "port", "replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit",
    "env", "featureFlags", "secretEnv", "serviceType", "rolloutTimeout", "ingressNamespace", "egress",
    "smokeBaseUrl", "smokePreviewUrl", "smokeTimeout", "smokeDeadline", "smokeInterval", "smokePasses", "smokeFailureLimit", "smokeChecksFile",
    "smokeCommand", "smokeEveryUp", "promoteFrom", "promotionOverride", "promotionMaxAge", "rollbackTo",
    ...MIGRATION_KEYS,
];

/** Every problem with a stack's config, and the config itself when there are none. */
export function checkConfig(raw: RawConfig, stack: string): { config: EnvironmentConfig | undefined; problems: string[]; keysRead: ReadonlySet<string> } {
    const read = new ConfigReader(raw, stack);
    knownKeysPlain(read);
    const id = validateIdentity(read);
    const slices = Object.fromEntries(Object.entries(GROUPS).map(([name, validate]) => [name, validate(read, id)])) as Groups;
    unknownKeys(read, slices.app.secretEnv);
    const config: EnvironmentConfig = { stack, environment: id.environment, namespace: id.namespace, ...slices };
    return { config: read.problems.length === 0 ? config : undefined, problems: read.problems, keysRead: read.keysRead };
}

/**
 * Validates raw stack config. Throws one ConfigError listing every problem, each naming the key,
 * the value seen, what is allowed and the command that fixes it.
 */
export function validateConfig(raw: RawConfig, stack: string): EnvironmentConfig {
    const { config, problems } = checkConfig(raw, stack);
    if (!config) throw new ConfigError(stack, problems);
    return config;
}

/**
 * The keys this program reads are settings: they end up in manifests, outputs and reports as
 * plain text, so a value stored with --secret would not stay secret. Where that is seen (the
 * stack file says `secure:`), say so rather than quietly use it.
 */
function knownKeysPlain(read: ConfigReader): void {
    for (const key of KNOWN_KEYS.filter((k) => read.storedAsSecret(k))) {
        read.problem(
            `${PROJECT}:${key} is stored as a secret, but it is a setting: its value appears in plain text in manifests, stack outputs and reports, so it cannot be kept secret. ` +
                `Allowed: a plain value (credentials go in secretEnv, or in a check header as {"secret": "NAME"}). Fix: ${read.fix(key, "<value>")} (without --secret)`,
        );
    }
}

/** A key no group reads and no secretEnv names: a typo, silently ignored otherwise. */
function unknownKeys(read: ConfigReader, secretEnv: readonly string[]): void {
    const { raw, stack } = read;
    const declared = raw.declaredSecrets ?? new Set<string>();
    for (const key of Object.keys(raw.values)) {
        // A secret Pulumi.yaml declares is required on every stack, mounted or not.
        if (KNOWN_KEYS.includes(key) || secretEnv.includes(key) || declared.has(key)) continue;
        if (raw.secretKeys?.has(key)) continue;
        if (SECRET_NAME.test(key)) {
            read.problem(
                `${PROJECT}:${key}: looks like a secret, but no secretEnv lists it, so the app never sees it, and Pulumi.yaml does not declare it secret: true, so nothing keeps it encrypted. ` +
                    `Fix: add ${key} to secretEnv, declare it in Pulumi.yaml as "${key}: { type: string, secret: true }" and ${read.fix(key, "<value>", { secret: true })}; or pulumi config rm ${key} -s ${stack}`,
            );
            continue;
        }
        const near = KNOWN_KEYS.find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 4)));
        read.problem(
            `${PROJECT}:${key} is not a key this program reads (a typo is silently ignored otherwise). Allowed: ${KNOWN_KEYS.join(", ")}, or a secret named in secretEnv. ` +
                `Fix: pulumi config rm ${key} -s ${stack}${near ? ` (did you mean ${near}?)` : ""}`,
        );
    }
}
