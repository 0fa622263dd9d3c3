// Cluster keys: kubeContext, kubeServer, kubeconfig. (The guard that reads the kubeconfig: cluster.test.ts.)
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../config/schema";
import { problemsOf, staging } from "./configFixture";

describe("kubeContext, kubeServer, kubeconfig", () => {
    it("passes them on as the cluster slice", () => {
        const cfg = validateConfig(staging({ kubeServer: "https://10.0.0.1:6443", kubeconfig: "/k" }), "staging");
        expect(cfg.cluster).toEqual({ context: "staging", server: "https://10.0.0.1:6443", kubeconfig: "/k" });
    });

    it("requires the context, suggesting one named for the environment", () => {
        expect(problemsOf(staging({ kubeContext: undefined }))).toEqual([
            "env-progression:kubeContext is required and missing. Allowed: the name of a context in your kubeconfig. Fix: pulumi config set kubeContext <staging-context> -s staging",
        ]);
    });

    it("rejects a kubeServer that is not an http(s) URL", () => {
        expect(problemsOf(staging({ kubeServer: "10.0.0.1:6443" }))).toEqual([
            'env-progression:kubeServer: "10.0.0.1:6443" is not a URL. Allowed: the API server URL of the context, e.g. https://10.0.0.1:6443. Fix: pulumi config set kubeServer https://<api-server>:6443 -s staging',
        ]);
    });
});
