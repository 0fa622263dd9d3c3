// The builders' output gathered in one list. The builders import only the manifest types
// (components/manifestTypes.ts), never this module, so the imports form no cycle.
import type { EnvironmentConfig } from "../config/schema";
import { appNames, configData, deploymentManifest, pdbManifest, serviceManifest } from "./app";
import { isolationInput, isolationPolicies } from "./isolation";
import { appLabels } from "./labels";
import type { KubernetesObject } from "./manifestTypes";
import { migrationEgressPolicy } from "./migrationManifests";
import { namespaceManifest } from "./namespace";

export type { KubernetesObject } from "./manifestTypes";

/**
 * Every object one environment applies, as plain manifests, built by the same builders the
 * components use: what `progression netcheck --stack` evaluates and what policy tests feed in.
 * Secret values are never needed, so the Secret carries key names only.
 */
export function environmentManifests(config: EnvironmentConfig): KubernetesObject[] {
    const input = { app: config.app, namespace: config.namespace, environment: config.environment };
    const names = appNames(config.app);
    const labels = appLabels(config.app.name, config.environment).all;
    const objects: KubernetesObject[] = [
        namespaceManifest(config.namespace, config.environment),
        ...isolationPolicies(isolationInput(config)),
        ...(config.migration ? [migrationEgressPolicy(config.app.name, config.environment, config.namespace, config.migration.egress)].filter((p) => p !== undefined) : []),
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: names.configMap, namespace: config.namespace, labels }, data: configData(config.app) },
    ];
    if (config.app.secretEnv.length > 0) {
        const keys = Object.fromEntries(config.app.secretEnv.map((k) => [k, "<secret>"]));
        objects.push({ apiVersion: "v1", kind: "Secret", metadata: { name: names.secret, namespace: config.namespace, labels }, type: "Opaque", stringData: keys });
    }
    objects.push({ apiVersion: "apps/v1", kind: "Deployment", ...deploymentManifest(input, "<secret-checksum>") });
    objects.push({ apiVersion: "v1", kind: "Service", ...serviceManifest(input) });
    const pdb = pdbManifest(input);
    if (pdb) objects.push({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", ...pdb });
    return objects;
}
