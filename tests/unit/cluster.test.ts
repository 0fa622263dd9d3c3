import { describe, expect, it } from "vitest";
import { checkCluster } from "../../config/cluster";
import { ConfigError, validateConfig } from "../../config/schema";

const kubeconfig = `
apiVersion: v1
kind: Config
clusters:
  - name: dev-cluster
    cluster: { server: "https://dev.k8s.example.com:6443" }
  - name: prod-cluster
    cluster: { server: "https://prod.k8s.example.com:6443" }
  - name: shared
    cluster: { server: "https://127.0.0.1:6443" }
contexts:
  - name: dev
    context: { cluster: dev-cluster }
  - name: prod
    context: { cluster: prod-cluster }
  - name: local
    context: { cluster: shared }
current-context: dev
`;

function prod(overrides: Record<string, unknown> = {}) {
    return validateConfig(
        {
            values: { environment: "prod", kubeContext: "prod", kubeServer: "https://prod.k8s.example.com:6443", image: `web:1@sha256:${"0".repeat(64)}`, replicas: 3, ...overrides },
            secretKeys: new Set(),
        },
        "prod",
    );
}

function refusal(fn: () => unknown): string {
    try {
        fn();
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.join("\n");
    }
    throw new Error("expected a refusal");
}

describe("the context guard (FAULTS 4, 5)", () => {
    it("pins the provider to the named context, not current-context", () => {
        const resolved = checkCluster(prod(), kubeconfig, "/k");
        expect(resolved).toMatchObject({ context: "prod", server: "https://prod.k8s.example.com:6443" });
    });

    it("refuses a prod stack pointed at a dev context", () => {
        expect(refusal(() => checkCluster(prod({ kubeContext: "dev", kubeServer: undefined }), kubeconfig, "/k"))).toBe(
            'env-progression:kubeContext: stack \'prod\' (environment prod) is pointed at context "dev" (cluster "dev-cluster"), which is named for dev. Refusing before creating anything. Fix: pulumi config set kubeContext <the prod context> -s prod',
        );
    });

    it("refuses a context whose API server is not the one the stack is pinned to", () => {
        expect(refusal(() => checkCluster(prod({ kubeContext: "local" }), kubeconfig, "/k"))).toBe(
            'env-progression:kubeServer: context "local" points at https://127.0.0.1:6443, but stack \'prod\' may deploy only to https://prod.k8s.example.com:6443. Refusing before creating anything. Fix: use the prod cluster\'s kubeconfig, or if the cluster really moved, pulumi config set kubeServer https://127.0.0.1:6443 -s prod',
        );
    });

    it("names the available contexts when the stack's is missing", () => {
        expect(refusal(() => checkCluster(prod({ kubeContext: "production" }), kubeconfig, "/home/u/.kube/config"))).toBe(
            'env-progression:kubeContext: context "production" is not in kubeconfig /home/u/.kube/config; the stack \'prod\' deploys only there. Available: dev, prod, local. Fix: use the kubeconfig of the prod cluster, or pulumi config set kubeContext <context> -s prod',
        );
    });

    it("refuses an empty kubeconfig", () => {
        expect(refusal(() => checkCluster(prod(), "  \n", "/k"))).toBe(
            "kubeconfig /k is empty. Fix: point KUBECONFIG at your cluster's kubeconfig, or pulumi config set kubeconfig <path> -s prod",
        );
    });

    it("refuses a kubeconfig that is not YAML", () => {
        expect(refusal(() => checkCluster(prod(), "contexts: [", "/k"))).toMatch(/^kubeconfig \/k is not valid YAML \(.+\)\. Fix: regenerate it/);
    });
});
