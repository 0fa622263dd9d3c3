import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
import { readStackConfig } from "../../config/stackFile";
import { checksum, configData, deploymentManifest, pdbManifest, serviceManifest, CONFIG_CHECKSUM, SECRET_CHECKSUM } from "../../components/app";
import { isolationPolicies } from "../../components/isolation";
import { appLabels } from "../../components/labels";
import { namespaceManifest } from "../../components/namespace";
import { environmentManifests } from "../../components/manifests";

const input = (stack: (typeof ENVIRONMENTS)[number]) => {
    const cfg = readStackConfig(stack);
    return { app: cfg.app, namespace: cfg.namespace, environment: cfg.environment };
};

describe("namespaceManifest", () => {
    it.each([
        ["dev", "baseline"],
        ["staging", "restricted"],
        ["prod", "restricted"],
    ] as const)("labels %s with its environment and enforces Pod Security %s", (env, enforce) => {
        const labels = namespaceManifest(`web-${env}`, env).metadata.labels!;
        expect(labels["environment"]).toBe(env);
        expect(labels["pod-security.kubernetes.io/enforce"]).toBe(enforce);
        // restricted is at least warned and audited everywhere, so dev shows what staging rejects
        expect(labels["pod-security.kubernetes.io/warn"]).toBe("restricted");
        expect(labels["pod-security.kubernetes.io/audit"]).toBe("restricted");
        expect(labels["app.kubernetes.io/part-of"]).toBe("env-progression");
    });
});

describe("isolationPolicies (structure; semantics are in isolation.test.ts)", () => {
    const policies = isolationPolicies({
        namespace: "web-prod",
        environment: "prod",
        appSelector: appLabels("web", "prod").selector,
        appPort: 8080,
        ingressNamespace: "ingress-nginx",
        egress: [{ cidr: "10.20.0.0/16", port: 5432, protocol: "TCP" }],
    });
    const byName = Object.fromEntries(policies.map((p) => [p.metadata.name, p]));

    it("starts from a default deny of ingress and egress for every pod", () => {
        expect(byName["default-deny"]!.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    });

    it("never selects namespaces by a label a tenant could set", () => {
        const selectors = policies.flatMap((p) => [...(p.spec.ingress ?? []).flatMap((r) => r.from ?? []), ...(p.spec.egress ?? []).flatMap((r) => r.to ?? [])]);
        for (const peer of selectors.filter((s) => s.namespaceSelector)) {
            expect(Object.keys(peer.namespaceSelector!.matchLabels ?? {})).toEqual(["kubernetes.io/metadata.name"]);
            expect(peer.namespaceSelector!.matchExpressions).toBeUndefined();
        }
    });

    it("allows DNS to kube-dns only, on UDP and TCP 53, with both selectors in one peer", () => {
        expect(byName["allow-dns"]!.spec.egress).toEqual([
            {
                to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                ports: [
                    { protocol: "UDP", port: 53 },
                    { protocol: "TCP", port: 53 },
                ],
            },
        ]);
    });

    it("adds configured egress as ipBlocks on their ports", () => {
        expect(byName["allow-egress"]!.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [{ protocol: "TCP", port: 5432 }] }]);
    });

    it("puts every policy in the environment's namespace", () => {
        expect(new Set(policies.map((p) => p.metadata.namespace))).toEqual(new Set(["web-prod"]));
    });
});

describe("deploymentManifest", () => {
    it("uses one labels object for selector, template and Service", () => {
        const d = deploymentManifest(input("staging"), "x");
        const s = serviceManifest(input("staging"));
        expect(d.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web-staging" });
        expect(s.spec.selector).toEqual(d.spec.selector.matchLabels);
        expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
        expect(d.spec.template.metadata.labels["environment"]).toBe("staging");
    });

    it.each(ENVIRONMENTS)("runs %s under a Pod Security restricted securityContext", (env) => {
        const pod = deploymentManifest(input(env), "x").spec.template.spec;
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        const [c] = pod.containers;
        expect(c!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
        expect(c!.resources.requests.cpu).toBeDefined();
        expect(c!.resources.limits.memory).toBeDefined();
        for (const probe of [c!.startupProbe, c!.readinessProbe, c!.livenessProbe]) {
            expect(probe.httpGet).toEqual({ path: "/healthz", port: "http" });
        }
        expect(pod.automountServiceAccountToken).toBe(false);
    });

    it("sizes each environment from its stack: 1, 3 and 50 replicas", () => {
        expect(ENVIRONMENTS.map((e) => deploymentManifest(input(e), "x").spec.replicas)).toEqual([1, 3, 50]);
    });

    it("never drops below requested capacity during a rollout outside dev", () => {
        expect(deploymentManifest(input("prod"), "x").spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
        expect(deploymentManifest(input("dev"), "x").spec.strategy.rollingUpdate.maxUnavailable).toBe("25%");
    });

    it("rolls the pods when a flag or a secret changes", () => {
        const base = input("staging");
        const before = deploymentManifest(base, "s1").spec.template.metadata.annotations;
        const flagged = deploymentManifest({ ...base, app: { ...base.app, featureFlags: { ...base.app.featureFlags, searchV2: true } } }, "s1").spec.template.metadata.annotations;
        const rotated = deploymentManifest(base, "s2").spec.template.metadata.annotations;
        expect(flagged[CONFIG_CHECKSUM]).not.toBe(before[CONFIG_CHECKSUM]);
        expect(rotated[SECRET_CHECKSUM]).not.toBe(before[SECRET_CHECKSUM]);
        expect(rotated[CONFIG_CHECKSUM]).toBe(before[CONFIG_CHECKSUM]);
    });

    it("mounts the Secret only when the app has secrets", () => {
        const base = input("dev");
        const without = deploymentManifest({ ...base, app: { ...base.app, secretEnv: [] } }, "x").spec.template.spec.containers[0]!;
        expect(without.envFrom).toEqual([{ configMapRef: { name: "web-config" } }]);
        expect(deploymentManifest(base, "x").spec.template.spec.containers[0]!.envFrom).toContainEqual({ secretRef: { name: "web-secrets" } });
    });
});

describe("configData and checksum", () => {
    it("stores flags as FLAG_<NAME> next to plain env", () => {
        expect(configData(input("staging").app)).toEqual({ FLAG_NEW_CHECKOUT: "true", FLAG_SEARCH_V2: "false", LOG_LEVEL: "info" });
    });

    it("ignores key order but not values", () => {
        expect(checksum({ a: "1", b: "2" })).toBe(checksum({ b: "2", a: "1" }));
        expect(checksum({ a: "1" })).not.toBe(checksum({ a: "2" }));
    });
});

describe("pdbManifest", () => {
    it("adds no PDB for a single replica, where any budget would block every drain", () => {
        expect(pdbManifest(input("dev"))).toBeUndefined();
    });

    it("lets staging drain one pod at a time and prod a tenth at a time", () => {
        expect(pdbManifest(input("staging"))!.spec.maxUnavailable).toBe(1);
        expect(pdbManifest(input("prod"))!.spec.maxUnavailable).toBe("10%");
    });
});

describe("environmentManifests", () => {
    it("lists every object an environment applies, in dependency order", () => {
        const kinds = environmentManifests(readStackConfig("prod")).map((o) => `${o.kind}/${o.metadata.name}`);
        expect(kinds).toEqual([
            "Namespace/web-prod",
            "NetworkPolicy/default-deny",
            "NetworkPolicy/allow-same-environment",
            "NetworkPolicy/allow-dns",
            "NetworkPolicy/allow-ingress-controller",
            "ConfigMap/web-config",
            "Secret/web-secrets",
            "Deployment/web",
            "Service/web",
            "PodDisruptionBudget/web",
        ]);
    });
});
