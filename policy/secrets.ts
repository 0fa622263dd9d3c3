// no-plain-secrets: a literal env var value (in a pod spec, or in a ConfigMap fed through
// envFrom) is stored readable in the object, in Pulumi state and in `kubectl describe`. Secrets
// belong in a Secret referenced by secretKeyRef / secretRef. Messages name the variable and the
// kind of secret, never the value.
import { SECRET_NAME } from "../config/schema";
import type { ResourceCheck } from "./define";
import { containersOf, get, isObject, list, type Manifest, podSpec, subject, WORKLOAD_KINDS } from "./manifest";
import { isUnknown } from "./unknown";

export interface SecretConfig {
    /** Names that look like secrets but are not (e.g. TOKEN_URL). @default [] */
    readonly allowedNames: readonly string[];
}


/** Value shapes that are a credential whatever the name says. */
const SECRET_VALUES: readonly (readonly [RegExp, string])[] = [
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
    [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
    [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/, "a GitHub token"],
    [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, "a Slack token"],
    [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, "a JSON Web Token"],
    [/^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with an embedded password"],
];

/** Why a plain name/value pair looks like a secret, or undefined. */
export function secretShape(name: string, value: string, allowed: readonly string[] = []): string | undefined {
    if (value === "" || allowed.includes(name)) return undefined;
    const byValue = SECRET_VALUES.find(([re]) => re.test(value));
    if (byValue) return `holds what looks like ${byValue[1]}`;
    if (SECRET_NAME.test(name)) return "holds a literal value under a secret-looking name";
    return undefined;
}

const FIX_ENV = (name: string) =>
    `Fix: move it into a Secret and reference it with valueFrom.secretKeyRef (this program: pulumi config set --secret ${name} <value>, and list ${name} in secretEnv); ` +
    `if it is no secret, add it to policy config {"no-plain-secrets": {"allowedNames": ["${name}"]}}.`;

export function plainSecretProblems(m: Manifest, config: Partial<SecretConfig>): string[] {
    const allowed = config.allowedNames ?? [];
    const who = subject(m);
    if (m.kind === "ConfigMap") {
        const data = get(m, "data");
        if (!isObject(data)) return [];
        return Object.entries(data).flatMap(([key, value]) => {
            const why = typeof value === "string" ? secretShape(key, value, allowed) : undefined;
            return why
                ? [
                      `${who} key ${key} ${why}; pods load this ConfigMap as plain env vars (envFrom), readable by anyone who can read the namespace's ConfigMaps. ${FIX_ENV(key)}`,
                  ]
                : [];
        });
    }
    const spec = podSpec(m);
    if (isUnknown(spec)) return [];
    return containersOf(spec).flatMap(({ label, container }) => {
        const env = list(get(container, "env"));
        if (isUnknown(env)) return [];
        return env.flatMap((e) => {
            const name = get(e, "name");
            const value = get(e, "value");
            if (typeof name !== "string" || typeof value !== "string") return [];
            const why = secretShape(name, value, allowed);
            return why
                ? [
                      `${who} ${label} env ${name} ${why}; a plain env value is stored readable in the object, in Pulumi state and in kubectl describe. ${FIX_ENV(name)}`,
                  ]
                : [];
        });
    });
}

export const noPlainSecrets: ResourceCheck<SecretConfig> = {
    name: "no-plain-secrets",
    description:
        "No secret-looking value or name in plain env vars (a container's env value or a ConfigMap loaded with envFrom): they are stored readable in " +
        "the object, in state and in kubectl output. Secrets come from a Secret via secretKeyRef or secretRef.",
    configSchema: {
        allowedNames: { type: "array", items: { type: "string" }, default: [], description: "Env var names that look like secrets but are not." },
    },
    kinds: [...WORKLOAD_KINDS, "ConfigMap"],
    check: (m, _environment, config) => plainSecretProblems(m, config),
};
