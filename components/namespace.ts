import { KubernetesResource } from "../resources/kubernetes";
import * as pulumi from "../resources/pulumi";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { commonLabels } from "./labels";
import type { NamespaceManifest } from "./manifestTypes";

/**
 * The environment's namespace: labelled with its environment, and with Pod Security Admission
 * enforcing the environment's level (restricted in staging and prod) and warning/auditing at
 * restricted everywhere, so dev shows what staging would reject.
 */
export function namespaceManifest(name: string, environment: EnvironmentName): NamespaceManifest {
    const psa = ENVIRONMENT_RULES[environment].podSecurity;
    return {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
            name,
            labels: {
                ...commonLabels(environment),
                "pod-security.kubernetes.io/enforce": psa.enforce,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": psa.warn,
                "pod-security.kubernetes.io/warn-version": "latest",
                "pod-security.kubernetes.io/audit": psa.warn,
                "pod-security.kubernetes.io/audit-version": "latest",
            },
        },
    };
}

export interface EnvironmentNamespaceArgs {
    /** Namespace name (RFC 1123 label). */
    readonly name: string;
    /** The environment the namespace belongs to; sets its labels and Pod Security level. */
    readonly environment: EnvironmentName;
}

export class EnvironmentNamespace extends pulumi.ComponentResource {
    /** The namespace name, resolved once the API server has it. */
    public readonly name: pulumi.Output<string>;

    constructor(name: string, args: EnvironmentNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:env:EnvironmentNamespace", name, {}, opts);
        const manifest = namespaceManifest(args.name, args.environment);
        const ns = new KubernetesResource("Namespace", name, { metadata: manifest.metadata }, { parent: this });
        this.name = ns.metadata.name;
        this.registerOutputs({ name: this.name });
    }
}
