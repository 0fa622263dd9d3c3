// Plain manifest types for what the builders produce: the subset of the Kubernetes API this
// program writes. Plain objects keep builders free of Pulumi and easy to assert on; the
// components hand them to @pulumi/kubernetes unchanged.

import { EnvironmentConfig } from "../config/schema";
import { appNames, configData, deploymentManifest, pdbManifest, serviceManifest } from "./app";
import { isolationInput, isolationPolicies } from "./isolation";
import { appLabels } from "./labels";
import { migrationEgressPolicy } from "./migrationManifests";
import { namespaceManifest } from "./namespace";

export type Labels = Record<string, string>;

export interface ObjectMeta {
    name: string;
    namespace?: string;
    labels?: Labels;
    annotations?: Record<string, string>;
}

export interface LabelSelector {
    matchLabels?: Labels;
    matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

export interface NetworkPolicyPeer {
    podSelector?: LabelSelector;
    namespaceSelector?: LabelSelector;
    ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicyPort {
    protocol?: "TCP" | "UDP" | "SCTP";
    port?: number | string;
    endPort?: number;
}

export type NetworkPolicyManifest = {
    apiVersion: "networking.k8s.io/v1";
    kind: "NetworkPolicy";
    metadata: ObjectMeta;
    spec: {
        podSelector: LabelSelector;
        policyTypes: ("Ingress" | "Egress")[];
        ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
        egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
    };
};

export type NamespaceManifest = {
    apiVersion: "v1";
    kind: "Namespace";
    metadata: ObjectMeta;
};

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

/** Any object with the usual envelope. */
export interface KubernetesObject {
    apiVersion: string;
    kind: string;
    metadata: ObjectMeta;
    [field: string]: unknown;
}
