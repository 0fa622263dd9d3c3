// Public shapes of the NetworkPolicy evaluator. Inputs are plain objects as they appear in YAML
// (networking.k8s.io/v1), so a policy read from a file, a builder or the API server is passed in
// unchanged; the evaluator validates and compiles them itself.
import type { IpAddress } from "./cidr";

export type Labels = Readonly<Record<string, string>>;
export type Protocol = "TCP" | "UDP" | "SCTP";
export type Direction = "ingress" | "egress";

export interface LabelSelectorRequirement {
    readonly key: string;
    readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    readonly values?: readonly string[];
}

export interface LabelSelector {
    readonly matchLabels?: Labels;
    readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export interface IPBlock {
    readonly cidr: string;
    readonly except?: readonly string[];
}

export interface NetworkPolicyPeer {
    readonly podSelector?: LabelSelector;
    readonly namespaceSelector?: LabelSelector;
    readonly ipBlock?: IPBlock;
}

export interface NetworkPolicyPort {
    /** @default "TCP" */
    readonly protocol?: Protocol;
    /** A number, or the name of a container port on the destination pod; absent: every port. */
    readonly port?: number | string;
    readonly endPort?: number;
}

export interface NetworkPolicy {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Labels };
    readonly spec: {
        readonly podSelector?: LabelSelector;
        /** @default - Ingress, plus Egress when egress rules are present (API server defaulting) */
        readonly policyTypes?: readonly ("Ingress" | "Egress")[];
        readonly ingress?: readonly { readonly from?: readonly NetworkPolicyPeer[]; readonly ports?: readonly NetworkPolicyPort[] }[];
        readonly egress?: readonly { readonly to?: readonly NetworkPolicyPeer[]; readonly ports?: readonly NetworkPolicyPort[] }[];
    };
}

// ---------------------------------------------------------------------------------------------
// The cluster model

export interface ContainerPort {
    readonly containerPort: number;
    readonly name?: string;
    /** @default "TCP" */
    readonly protocol?: Protocol;
}

export interface NamespaceModel {
    readonly name: string;
    /** Labels as set on the Namespace; `kubernetes.io/metadata.name` is implied (the API server sets it). */
    readonly labels?: Labels;
}

export interface PodModel {
    readonly namespace: string;
    readonly name: string;
    readonly labels?: Labels;
    /** The pod's IP, IPv4 or IPv6: ipBlocks match it, as the upstream e2e suite expects. */
    readonly ip: string;
    /** Container ports, for named ports in policies. */
    readonly ports?: readonly ContainerPort[];
}

/** Something outside the cluster: no policy selects it, ipBlocks are the only peers that match it. */
export interface ExternalModel {
    readonly name: string;
    readonly ip: string;
}

export interface ClusterModel {
    readonly namespaces: readonly NamespaceModel[];
    readonly pods: readonly PodModel[];
    readonly externals?: readonly ExternalModel[];
}

/** One kind of traffic tried between every pair of endpoints. */
export interface Probe {
    /** Short name for tables and findings, e.g. "app" or "dns-udp". */
    readonly name: string;
    readonly port: number;
    readonly protocol: Protocol;
}

/**
 * A cluster model plus the roles the isolation judge needs: which namespaces are environments,
 * where the app listens, where DNS and the ingress controller are, and who the attacker is.
 * Endpoint ids are `namespace/pod` for pods and `external:name` for externals.
 */
export interface IsolationModel extends ClusterModel {
    readonly probes: readonly Probe[];
    readonly environments: readonly EnvironmentRole[];
    /** kube-dns pods: every environment pod must reach them on UDP and TCP 53. */
    readonly dns: readonly string[];
    readonly dnsProbes: readonly Probe[];
    readonly ingressController: { readonly namespace: string; readonly pods: readonly string[] };
    /** A namespace that copies the labels of the environment it impersonates. */
    readonly attacker?: { readonly namespace: string; readonly pods: readonly string[]; readonly impersonates: string };
}

export interface EnvironmentRole {
    readonly environment: string;
    readonly namespace: string;
    /** Every pod of the environment. */
    readonly pods: readonly string[];
    /** Pods the ingress controller must reach, and on which port. */
    readonly apps: readonly { readonly pod: string; readonly probe: Probe }[];
}

// ---------------------------------------------------------------------------------------------
// Verdicts

export interface Endpoint {
    /** `namespace/pod`, or `external:name`. */
    readonly id: string;
    readonly kind: "pod" | "external";
    readonly namespace?: string;
    readonly name: string;
    readonly ip: string;
}

/** A rule that matched: `spec.<direction>[rule]` of `policy` (namespace/name). */
export interface RuleRef {
    readonly policy: string;
    readonly direction: Direction;
    readonly rule: number;
}

export interface DirectionVerdict {
    readonly direction: Direction;
    /** The endpoint whose policies decide: the source for egress, the destination for ingress. */
    readonly endpoint: string;
    readonly allowed: boolean;
    /** True when some policy selects the endpoint for this direction. */
    readonly isolated: boolean;
    /** Policies (namespace/name) that select the endpoint for this direction. */
    readonly isolatedBy: readonly string[];
    /** Every rule that admits the traffic; empty when not isolated or denied. */
    readonly allowedBy: readonly RuleRef[];
    readonly reason: string;
}

export interface Verdict {
    readonly from: string;
    readonly to: string;
    readonly port: number;
    readonly protocol: Protocol;
    /** Egress allowed at the source AND ingress allowed at the destination. */
    readonly allowed: boolean;
    readonly egress: DirectionVerdict;
    readonly ingress: DirectionVerdict;
    readonly reason: string;
}

export interface MatrixCell extends Verdict {
    readonly probe: string;
}

export interface ConnectivityMatrix {
    readonly endpoints: readonly Endpoint[];
    readonly probes: readonly Probe[];
    /** One cell per (source, destination, probe), self-traffic excluded; row-major. */
    readonly cells: readonly MatrixCell[];
}

export type FindingKind = "cross-environment" | "spoof-admitted" | "dns-blocked" | "ingress-blocked";

export interface Finding {
    readonly kind: FindingKind;
    readonly from: string;
    readonly to: string;
    /** Probe names concerned, e.g. ["app", "dns-udp"]. */
    readonly probes: readonly string[];
    /** What is wrong, the policy and rule responsible (or the isolating policies), and the fix. */
    readonly message: string;
}

/** An endpoint with what policies match on: labels, its namespace's labels, address and ports. */
export interface ModelEndpoint extends Endpoint {
    readonly labels: Labels;
    readonly namespaceLabels: Labels;
    readonly address: IpAddress;
    readonly containerPorts: readonly ContainerPort[];
}
