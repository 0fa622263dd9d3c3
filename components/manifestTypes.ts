// Plain manifest types for what the builders produce: the subset of the Kubernetes API this
// program writes. Plain objects keep builders free of Pulumi and easy to assert on; the
// components hand them to the kubernetes provider unchanged (resources/kubernetes.ts). Types
// only, importing nothing: every builder may depend on this module without forming a cycle.

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

/** Any object with the usual envelope. */
export interface KubernetesObject {
    apiVersion: string;
    kind: string;
    metadata: ObjectMeta;
    [field: string]: unknown;
}
