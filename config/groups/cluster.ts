// Cluster: which kubeconfig context the stack deploys to, and optionally which API server that
// context must point at. config/cluster.ts then checks both against the kubeconfig itself.
import { type ConfigReader, PROJECT, show } from "../reader";
import type { Identity } from "./identity";

export interface ClusterConfig {
    /** The kubeconfig context this stack may deploy to, and only that one. */
    readonly context: string;
    /** If set, the API server URL that context must point at. */
    readonly server: string | undefined;
    /** Kubeconfig file; defaults to every $KUBECONFIG entry, then ~/.kube/config. */
    readonly kubeconfig: string | undefined;
}

/** Keys: kubeContext, kubeServer, kubeconfig. */
export function validateCluster(read: ConfigReader, id: Identity): ClusterConfig {
    const context = read.required("kubeContext", "the name of a context in your kubeconfig", `<${id.environment}-context>`);
    const server = read.string("kubeServer");
    if (server !== undefined && !isHttpUrl(server)) {
        read.problem(
            `${PROJECT}:kubeServer: ${show(server)} is not a URL. Allowed: the API server URL of the context, e.g. https://10.0.0.1:6443. Fix: ${read.fix("kubeServer", "https://<api-server>:6443")}`,
        );
    }
    return { context: context ?? "", server, kubeconfig: read.string("kubeconfig") };
}

export function isHttpUrl(text: string): boolean {
    try {
        return ["http:", "https:"].includes(new URL(text).protocol);
    } catch {
        return false;
    }
}
