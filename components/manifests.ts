// The builders' output gathered in one list. The builders import only the manifest types
// (components/manifestTypes.ts), never this module, so the imports form no cycle.
import type { EnvironmentConfig } from "../config/schema";
import { appRelease } from "./app";
import { isolationInput, isolationPolicies } from "./networkIsolation";
import type { KubernetesObject } from "./manifestTypes";
import { migrationRender } from "./migrationManifests";
import { namespaceManifest } from "./namespace";

export type { KubernetesObject } from "./manifestTypes";

/** What stands for the secret values' keyed digest where no key is at hand (netcheck, policy tests). */
export const SECRET_CHECKSUM_PLACEHOLDER = "<secret-checksum>";

/**
 * Every object one environment applies, as plain manifests, built by the same builders the
 * components apply: what `progression netcheck --stack` evaluates, what policy tests feed in, and
 * (with the stack's real `secretChecksum`) what the verified record's manifest digest covers.
 * Secret values are never in it: the Secret carries a placeholder per key.
 */
export function environmentManifests(config: EnvironmentConfig, secretChecksum: string = SECRET_CHECKSUM_PLACEHOLDER): KubernetesObject[] {
    const release = appRelease({ app: config.app, namespace: config.namespace, environment: config.environment }, secretChecksum);
    const migration = config.migration ? migrationRender({ app: config.app, environment: config.environment, namespace: config.namespace, migration: config.migration }) : {};
    return [
        namespaceManifest(config.namespace, config.environment),
        ...isolationPolicies(isolationInput(config)),
        ...(migration.egress ? [migration.egress] : []),
        ...(migration.secret ? [migration.secret] : []),
        ...(migration.job ? [migration.job] : []),
        release.configMap,
        ...(release.secret ? [release.secret] : []),
        release.deployment,
        release.preview,
        release.service,
        ...(release.pdb ? [release.pdb] : []),
    ];
}
