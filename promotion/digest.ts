// Digests of what an environment deploys. The smoke trigger and the verified record carry them,
// so they must change exactly when what runs changes, and reveal nothing about secret values.
import { createHash, createHmac } from "node:crypto";

/** JSON with object keys sorted at every level: one text per value, whatever the key order. */
export function canonicalJson(value: unknown): string {
    return JSON.stringify(value, (_key, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            : v,
    );
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * sha256 (hex) of every manifest rendered for an environment (`environmentManifests(config)`):
 * namespace, policies, ConfigMap, Secret keys, Deployment, Service and PDB. Any field the
 * builders render (port, probes, resources, egress, the ingress namespace) changes it. Secret
 * values are not in the manifests; `keyedDigest` covers them.
 */
export function manifestDigest(objects: readonly unknown[]): string {
    return sha256(canonicalJson(objects));
}

/**
 * HMAC-SHA256 (hex) of secret values by name, under `key`. A plain hash of a short secret can
 * be reversed by guessing; without the key, this digest tells nothing about the values. Equal
 * values give equal digests only under the same key.
 */
export function keyedDigest(key: string, values: Readonly<Record<string, string>>): string {
    if (key.length < 32) throw new Error("keyedDigest: the key must be at least 32 characters of random data");
    return createHmac("sha256", key).update(canonicalJson(values)).digest("hex");
}

export interface TriggerParts {
    /** `manifestDigest(environmentManifests(config))`. */
    readonly manifestDigest: string;
    /** `keyedDigest(key, secret values)`. */
    readonly secretDigest: string;
    /** The database schema version the app runs against, once a migration gate sets one. @default - none */
    readonly migrationVersion?: string;
}

/** What a smoke run verifies: any change to the rendered manifests, a secret value or the schema re-runs the checks. */
export function smokeTrigger(parts: TriggerParts): string {
    return sha256(canonicalJson({ manifests: parts.manifestDigest, secrets: parts.secretDigest, migration: parts.migrationVersion ?? null }));
}
