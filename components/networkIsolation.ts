import { KubernetesResource } from "../resources/kubernetes";
import * as pulumi from "../resources/pulumi";
import type { EnvironmentName } from "../config/environments";
import type { EgressRule, EnvironmentConfig } from "../config/schema";
import { NAMESPACE_NAME_LABEL } from "../kube/labels";
import { appLabels, commonLabels } from "./labels";
import type { Labels, NetworkPolicyManifest, NetworkPolicyPeer } from "./manifestTypes";

export interface IsolationInput {
    readonly namespace: string;
    readonly environment: EnvironmentName;
    /** Selector labels of the app's pods: the only pods the ingress controller may reach. */
    readonly appSelector: Labels;
    readonly appPort: number;
    /** Namespace of the ingress controller admitted to the app port. */
    readonly ingressNamespace: string;
    /** Extra egress, e.g. a managed database outside the cluster. */
    readonly egress: readonly EgressRule[];
}

/** What an environment's config says about its isolation. */
export function isolationInput(config: EnvironmentConfig): IsolationInput {
    return {
        namespace: config.namespace,
        environment: config.environment,
        appSelector: appLabels(config.app.name, config.environment).selector,
        appPort: config.app.port,
        ingressNamespace: config.network.ingressNamespace,
        egress: config.network.egress,
    };
}

/**
 * The environment's NetworkPolicies. Policies only ever add allowances, so the set is one
 * default deny plus one narrow allowance per legitimate path:
 *
 * - default-deny: every pod isolated for ingress AND egress. (Listing Egress in policyTypes
 *   with no egress rule is what denies; the seed did that by accident, which also denied DNS.)
 * - allow-same-environment: pods of this namespace talk to each other, both ways. A peer with
 *   only a podSelector means "this namespace", so no other namespace can match it.
 * - allow-dns: egress to kube-dns on UDP and TCP 53. One peer carries both selectors (AND);
 *   two peers would mean "all of kube-system OR any pod labelled kube-dns anywhere".
 * - allow-ingress-controller: the ingress controller's namespace, app pods, app port only.
 * - allow-egress: configured CIDRs, if any.
 *
 * Namespaces are selected by `kubernetes.io/metadata.name`, which the API server sets and a
 * tenant cannot: a namespace that labels itself `environment=prod` gains nothing.
 */
export function isolationPolicies(input: IsolationInput): NetworkPolicyManifest[] {
    const meta = (name: string) => ({ name, namespace: input.namespace, labels: commonLabels(input.environment) });
    const namespaceNamed = (name: string): NetworkPolicyPeer["namespaceSelector"] => ({ matchLabels: { [NAMESPACE_NAME_LABEL]: name } });
    const policies: NetworkPolicyManifest[] = [
        {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: meta("default-deny"),
            spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        },
        {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: meta("allow-same-environment"),
            spec: {
                podSelector: {},
                policyTypes: ["Ingress", "Egress"],
                ingress: [{ from: [{ podSelector: {} }] }],
                egress: [{ to: [{ podSelector: {} }] }],
            },
        },
        {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: meta("allow-dns"),
            spec: {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [{ namespaceSelector: namespaceNamed("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                        ports: [
                            { protocol: "UDP", port: 53 },
                            { protocol: "TCP", port: 53 },
                        ],
                    },
                ],
            },
        },
        {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: meta("allow-ingress-controller"),
            spec: {
                podSelector: { matchLabels: { ...input.appSelector } },
                policyTypes: ["Ingress"],
                ingress: [{ from: [{ namespaceSelector: namespaceNamed(input.ingressNamespace) }], ports: [{ protocol: "TCP", port: input.appPort }] }],
            },
        },
    ];
    if (input.egress.length > 0) {
        policies.push({
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: meta("allow-egress"),
            spec: {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: input.egress.map((rule) => ({
                    to: [{ ipBlock: { cidr: rule.cidr } }],
                    ...(rule.port === undefined ? {} : { ports: [{ protocol: rule.protocol, port: rule.port }] }),
                })),
            },
        });
    }
    return policies;
}

export interface NetworkIsolationArgs {
    /** What to isolate and which paths stay open; see `isolationPolicies`. */
    readonly input: IsolationInput;
}

export class NetworkIsolation extends pulumi.ComponentResource {
    /** Names of the NetworkPolicies applied, in the order created. */
    public readonly policyNames: pulumi.Output<string[]>;

    constructor(name: string, args: NetworkIsolationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("progression:network:NetworkIsolation", name, {}, opts);
        const created = isolationPolicies(args.input).map(
            (p) => new KubernetesResource("NetworkPolicy", `${name}-${p.metadata.name}`, { metadata: p.metadata, spec: p.spec }, { parent: this }),
        );
        this.policyNames = pulumi.all(created.map((p) => p.metadata.name));
        this.registerOutputs({ policyNames: this.policyNames });
    }
}
