import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCluster, environmentNamed, kubeconfigPaths, resolveCluster } from "../../config/cluster";
import { ConfigError, validateConfig } from "../../config/schema";
import { DECLARED } from "./configFixture";

const kubeconfig = `
apiVersion: v1
kind: Config
clusters:
  - name: dev-cluster
    cluster: { server: "https://dev.k8s.example.com:6443" }
  - name: prod-cluster
    cluster: { server: "https://prod.k8s.example.com:6443", certificate-authority: ca/prod.crt }
  - name: shared
    cluster: { server: "https://127.0.0.1:6443" }
contexts:
  - name: dev
    context: { cluster: dev-cluster, user: dev-admin }
  - name: prod
    context: { cluster: prod-cluster, user: prod-deployer, namespace: web-prod }
  - name: local
    context: { cluster: shared }
users:
  - name: dev-admin
    user: { token: dev-token-5e1f }
  - name: prod-deployer
    user: { token: prod-token-9a7c, client-key: keys/prod.key }
current-context: dev
`;
const one = (text: string, file = "/k/config") => [{ path: file, text }];

function config(environment: string, overrides: Record<string, unknown> = {}) {
    return validateConfig(
        {
            values: {
                environment,
                kubeContext: environment,
                image: `web:1@sha256:${"0".repeat(64)}`,
                replicas: "3",
                smokeBaseUrl: "https://web.example.com",
                smokePreviewUrl: "https://preview.web.example.com",
                ...overrides,
            },
            declaredSecrets: DECLARED,
        },
        environment,
    );
}
const prod = (overrides: Record<string, unknown> = {}) => config("prod", { kubeServer: "https://prod.k8s.example.com:6443", ...overrides });

function refusal(fn: () => unknown): string {
    try {
        fn();
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.join("\n");
    }
    throw new Error("expected a refusal");
}

describe("the context guard", () => {
    it("pins the provider to the named context, not current-context", () => {
        const resolved = checkCluster(prod(), one(kubeconfig));
        expect(resolved).toMatchObject({ context: "prod", server: "https://prod.k8s.example.com:6443", kubeconfigPaths: ["/k/config"] });
    });

    it("refuses a prod stack pointed at a dev context", () => {
        expect(refusal(() => checkCluster(prod({ kubeContext: "dev", kubeServer: undefined }), one(kubeconfig)))).toBe(
            'env-progression:kubeContext: stack \'prod\' (environment prod) is pointed at context "dev" (cluster "dev-cluster"), which is named for dev. Refusing before creating anything. Fix: pulumi config set kubeContext <the prod context> -s prod',
        );
    });

    it("refuses a context whose API server is not the one the stack is pinned to", () => {
        expect(refusal(() => checkCluster(prod({ kubeContext: "local" }), one(kubeconfig)))).toBe(
            'env-progression:kubeServer: context "local" points at https://127.0.0.1:6443, but stack \'prod\' may deploy only to https://prod.k8s.example.com:6443. Refusing before creating anything. Fix: use the prod cluster\'s kubeconfig, or if the cluster really moved, pulumi config set kubeServer https://127.0.0.1:6443 -s prod',
        );
    });

    it("names the available contexts when the stack's is missing", () => {
        expect(refusal(() => checkCluster(prod({ kubeContext: "production" }), one(kubeconfig, "/home/u/.kube/config")))).toBe(
            'env-progression:kubeContext: context "production" is not in kubeconfig /home/u/.kube/config; the stack \'prod\' deploys only there. Available: dev, prod, local. Fix: use the kubeconfig of the prod cluster, or pulumi config set kubeContext <context> -s prod',
        );
    });

    it("refuses an empty kubeconfig", () => {
        expect(refusal(() => checkCluster(prod(), one("  \n", "/k")))).toBe(
            "kubeconfig /k is empty. Fix: point KUBECONFIG at your cluster's kubeconfig, or pulumi config set kubeconfig <path> -s prod",
        );
    });

    it("refuses a kubeconfig that is not YAML", () => {
        expect(refusal(() => checkCluster(prod(), one("contexts: [", "/k")))).toMatch(/^kubeconfig \/k is not valid YAML \(.+\)\. Fix: regenerate it/);
    });
});

describe("environment names in contexts", () => {
    const kube = (name: string) => `
clusters: [{ name: c, cluster: { server: "https://10.0.0.1" } }]
contexts: [{ name: "${name}", context: { cluster: c } }]
`;
    it.each([
        ["staging", "pre-prod"],
        ["staging", "preprod-eu"],
        ["dev", "non-prod"],
        ["staging", "nonprod-2"],
        ["dev", "product-catalog"],
        ["prod", "gke_acme_europe-west1_prod-1"],
        ["dev", "kind-dev"],
    ])("lets %s deploy to %j", (env, name) => {
        expect(checkCluster(config(env, { kubeContext: name }), one(kube(name))).context).toBe(name);
    });

    it.each([
        ["prod", "pre-prod", "staging"],
        ["prod", "non-prod", "anything but prod"],
        ["dev", "production", "prod"],
        ["staging", "gke_acme_dev", "dev"],
        ["dev", "stage-1", "staging"],
    ])("refuses %s on %j (named for %s)", (env, name, named) => {
        expect(refusal(() => checkCluster(config(env, { kubeContext: name }), one(kube(name))))).toContain(`which is named for ${named}. Refusing before creating anything.`);
    });

    it("reads whole words, joining pre/non/not to the word they qualify", () => {
        expect(environmentNamed("pre-prod")).toEqual({ is: ["staging"], isNot: [] });
        expect(environmentNamed("non_prod")).toEqual({ is: [], isNot: ["prod"] });
        expect(environmentNamed("devops")).toEqual({ is: [], isNot: [] });
    });
});

describe("the kubeconfig the provider gets", () => {
    it("holds only the stack's context, its cluster and its user, with file paths made absolute", () => {
        const resolved = checkCluster(prod(), one(kubeconfig, "/home/u/.kube/config"));
        expect(resolved.kubeconfig).not.toContain("dev-token-5e1f");
        expect(resolved.kubeconfig).not.toContain("dev.k8s.example.com");
        expect(parse(resolved.kubeconfig)).toEqual({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "prod-cluster", cluster: { server: "https://prod.k8s.example.com:6443", "certificate-authority": "/home/u/.kube/ca/prod.crt" } }],
            contexts: [{ name: "prod", context: { cluster: "prod-cluster", user: "prod-deployer", namespace: "web-prod" } }],
            users: [{ name: "prod-deployer", user: { token: "prod-token-9a7c", "client-key": "/home/u/.kube/keys/prod.key" } }],
            "current-context": "prod",
        });
    });

    it("has no user when the context names none", () => {
        const resolved = checkCluster(prod({ kubeContext: "local", kubeServer: undefined }), one(kubeconfig));
        expect(parse(resolved.kubeconfig).users).toEqual([]);
    });
});

describe("$KUBECONFIG with several files", () => {
    let dir: string;
    const file = (name: string, text: string) => {
        const p = path.join(dir, name);
        fs.writeFileSync(p, text);
        return p;
    };
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfigs-"));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads every entry, in order, not only the first", () => {
        const a = file("a", "clusters: [{ name: x, cluster: { server: 'https://a' } }]\ncontexts: [{ name: other, context: { cluster: x } }]\n");
        const b = file("b", kubeconfig);
        const cfg = prod();
        expect(kubeconfigPaths(cfg, { KUBECONFIG: [a, "", b, a].join(path.delimiter) }, "/")).toEqual([a, b]);
        expect(resolveCluster(cfg, [a, b])).toMatchObject({ context: "prod", kubeconfigPaths: [a, b] });
    });

    it("lets the first file to define a name win, as kubectl does", () => {
        const first = file("first", "clusters: [{ name: prod-cluster, cluster: { server: 'https://elsewhere:6443' } }]\n");
        const second = file("second", kubeconfig);
        expect(refusal(() => resolveCluster(prod(), [first, second]))).toMatch(/^env-progression:kubeServer: context "prod" points at https:\/\/elsewhere:6443/);
    });

    it("skips an entry that does not exist, as kubectl does, but not a file the stack names", () => {
        const real = file("real", kubeconfig);
        expect(resolveCluster(prod(), [path.join(dir, "missing"), real]).context).toBe("prod");
        expect(refusal(() => resolveCluster(prod({ kubeconfig: path.join(dir, "missing") })))).toMatch(/^kubeconfig .*missing \(ENOENT\) cannot be read\. Fix: /);
    });

    it("uses the stack's kubeconfig key alone when it is set", () => {
        expect(kubeconfigPaths(prod({ kubeconfig: "k/config" }), { KUBECONFIG: "/a:/b" }, "/proj")).toEqual(["/proj/k/config"]);
        expect(kubeconfigPaths(prod(), { HOME: "/home/u" }, "/")).toEqual(["/home/u/.kube/config"]);
    });
});
