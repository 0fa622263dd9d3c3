import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
import { readStackConfig } from "../../config/stackFile";
import {
    type AppInput,
    appRelease,
    checksum,
    configData,
    deploymentManifest,
    liveSelector,
    pdbManifest,
    revisionId,
    CONFIG_CHECKSUM,
    SECRET_CHECKSUM,
} from "../../components/app";
import { isolationPolicies } from "../../components/networkIsolation";
import { REVISION_LABEL } from "../../kube/labels";
import { appLabels } from "../../components/labels";
import type { KubernetesObject } from "../../components/manifestTypes";
import { namespaceManifest } from "../../components/namespace";
import { environmentManifests, SECRET_CHECKSUM_PLACEHOLDER } from "../../components/manifests";

const input = (stack: (typeof ENVIRONMENTS)[number]): AppInput => {
    const cfg = readStackConfig(stack);
    return { app: cfg.app, namespace: cfg.namespace, environment: cfg.environment };
};

/** `input` with some of the app's settings replaced. */
const withApp = (base: AppInput, app: Partial<AppInput["app"]>): AppInput => ({ ...base, app: { ...base.app, ...app } });

/** Whether a Service's equality-based selector picks a pod with these labels (an empty or absent one picks none here). */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
    selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

// The rendered objects are plain JSON; these read the fields the tests look at.
const spec = (o: KubernetesObject | undefined) => (o as unknown as { spec: Record<string, any> }).spec;
const podLabelsOf = (release: ReturnType<typeof appRelease>): Record<string, string> => spec(release.deployment)["template"].metadata.labels;

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
    it("is one revision: named and selected by its revision id, on the app's one labels object", () => {
        const d = deploymentManifest(input("staging"), "x");
        const revision = revisionId(input("staging"), "x");
        expect(d.metadata.name).toBe(`web-${revision}`);
        expect(d.metadata.labels[REVISION_LABEL]).toBe(revision);
        expect(d.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web-staging", [REVISION_LABEL]: revision });
        expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
        expect(d.spec.template.metadata.labels).toHaveProperty("environment", "staging");
        // What the live switch sets on the live Service for this revision is exactly this selector.
        expect(liveSelector(input("staging"), revision)).toEqual(d.spec.selector.matchLabels);
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

    it("spreads a revision's pods over nodes by that revision's labels only", () => {
        const d = deploymentManifest(input("prod"), "x");
        expect(d.spec.template.spec.topologySpreadConstraints[0]!.labelSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
    });

    it("marks the config and secret checksums on the pod template", () => {
        const base = input("staging");
        const before = deploymentManifest(base, "s1").spec.template.metadata.annotations;
        const flagged = deploymentManifest(withApp(base, { featureFlags: { ...base.app.featureFlags, searchV2: true } }), "s1").spec.template.metadata.annotations;
        const rotated = deploymentManifest(base, "s2").spec.template.metadata.annotations;
        expect(flagged[CONFIG_CHECKSUM]).not.toBe(before[CONFIG_CHECKSUM]);
        expect(rotated[SECRET_CHECKSUM]).not.toBe(before[SECRET_CHECKSUM]);
        expect(rotated[CONFIG_CHECKSUM]).toBe(before[CONFIG_CHECKSUM]);
    });

    it("mounts its revision's ConfigMap, and its Secret only when the app has secrets", () => {
        const base = input("dev");
        const noSecrets = withApp(base, { secretEnv: [] });
        const without = deploymentManifest(noSecrets, "x").spec.template.spec.containers[0]!;
        expect(without.envFrom).toEqual([{ configMapRef: { name: `web-${revisionId(noSecrets, "x")}-config` } }]);
        const revision = revisionId(base, "x");
        expect(deploymentManifest(base, "x").spec.template.spec.containers[0]!.envFrom).toEqual([
            { configMapRef: { name: `web-${revision}-config` } },
            { secretRef: { name: `web-${revision}-secrets` } },
        ]);
    });
});

describe("revisionId", () => {
    it("is 10 lowercase hex characters, the same for the same inputs", () => {
        const id = revisionId(input("prod"), "s1");
        expect(id).toMatch(/^[0-9a-f]{10}$/);
        // A fresh read of the same stack gives it again, and so do its flags written in another order.
        const again = input("prod");
        expect(revisionId(again, "s1")).toBe(id);
        const flags = Object.entries(again.app.featureFlags);
        expect(flags.length).toBeGreaterThan(1);
        expect(revisionId(withApp(again, { featureFlags: Object.fromEntries(flags.reverse()) }), "s1")).toBe(id);
    });

    it.each<[string, (base: AppInput) => AppInput]>([
        ["the image", (b) => withApp(b, { image: `ghcr.io/env-progression/web:1.4.3@sha256:${"1".repeat(64)}` })],
        ["a feature flag", (b) => withApp(b, { featureFlags: { ...b.app.featureFlags, searchV2: !b.app.featureFlags["searchV2"] } })],
        ["a plain env value", (b) => withApp(b, { env: { ...b.app.env, LOG_LEVEL: "debug" } })],
        ["the resources", (b) => withApp(b, { resources: { ...b.app.resources, limits: { ...b.app.resources.limits, memory: "1Gi" } } })],
        ["the port", (b) => withApp(b, { port: b.app.port + 1 })],
    ])("changes with %s: a new pod template is a new revision", (_what, change) => {
        const base = input("prod");
        expect(revisionId(change(base), "s1")).not.toBe(revisionId(base, "s1"));
    });

    it("changes with the secret values' checksum: a rotated secret is a new revision", () => {
        expect(revisionId(input("prod"), "s2")).not.toBe(revisionId(input("prod"), "s1"));
    });

    it("stays when only the replica count changes: scaling keeps the revision", () => {
        const base = input("prod");
        expect(revisionId(withApp(base, { replicas: 3 }), "s1")).toBe(revisionId(base, "s1"));
        expect(revisionId(withApp(base, { replicas: 200 }), "s1")).toBe(revisionId(base, "s1"));
        expect(deploymentManifest(withApp(base, { replicas: 3 }), "s1").metadata.name).toBe(deploymentManifest(base, "s1").metadata.name);
    });
});

describe("appRelease", () => {
    const base = input("prod");
    const release = appRelease(base, "s1");
    const other = appRelease(withApp(base, { image: `ghcr.io/env-progression/web:1.4.3@sha256:${"1".repeat(64)}` }), "s1");

    it("names the revision's objects by its id and the stable ones by the app, all in the environment's namespace", () => {
        const r = release.revision;
        expect(r).toBe(revisionId(base, "s1"));
        const names = [release.configMap, release.secret, release.deployment, release.preview, release.service, release.pdb].map((o) => `${o!.kind}/${o!.metadata.name}`);
        expect(names).toEqual([`ConfigMap/web-${r}-config`, `Secret/web-${r}-secrets`, `Deployment/web-${r}`, "Service/web-preview", "Service/web", "PodDisruptionBudget/web"]);
        for (const o of [release.configMap, release.secret, release.deployment, release.preview, release.service, release.pdb]) expect(o!.metadata.namespace).toBe("web-prod");
        for (const o of [release.configMap, release.secret, release.deployment]) expect(o!.metadata.labels![REVISION_LABEL]).toBe(r);
    });

    it("makes the revision's ConfigMap and Secret immutable, the Secret holding one key per secretEnv entry", () => {
        expect(release.configMap).toMatchObject({ immutable: true, data: configData(base.app) });
        expect(release.secret).toMatchObject({ immutable: true, type: "Opaque" });
        // The render never sees a value (appRelease takes none): each key holds the same placeholder.
        const stringData = release.secret!["stringData"] as Record<string, string>;
        expect(Object.keys(stringData).sort()).toEqual([...base.app.secretEnv].sort());
        expect(new Set(Object.values(stringData)).size).toBe(1);
    });

    it("has no Secret without secretEnv, and no PDB for a single replica", () => {
        const bare = appRelease(withApp(base, { secretEnv: [] }), "none");
        expect(bare.secret).toBeUndefined();
        expect(appRelease(input("dev"), "s1").pdb).toBeUndefined();
    });

    it("points the preview Service at its own revision only", () => {
        const selector = spec(release.preview)["selector"] as Record<string, string>;
        expect(selector).toEqual(spec(release.deployment)["selector"].matchLabels);
        expect(selects(selector, podLabelsOf(release))).toBe(true);
        expect(selects(selector, podLabelsOf(other))).toBe(false);
        expect(spec(release.preview)["ports"]).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
    });

    it("keeps the preview Service a ClusterIP even when the live Service is a LoadBalancer", () => {
        const lb = appRelease(withApp(base, { serviceType: "LoadBalancer" }), "s1");
        expect(spec(lb.preview)["type"]).toBe("ClusterIP");
        expect(spec(lb.service)["type"]).toBe("LoadBalancer");
    });

    it("renders the live Service without a selector, the same whatever the candidate: the program never moves live traffic", () => {
        expect(release.service.metadata.name).toBe("web");
        expect(spec(release.service)["selector"]).toBeUndefined();
        expect(spec(release.service)["ports"]).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
        expect(other.service).toEqual(release.service);
        expect(other.revision).not.toBe(release.revision);
    });

    it("keeps one disruption budget over every revision's pods", () => {
        const selector = spec(release.pdb)["selector"].matchLabels as Record<string, string>;
        expect(selector).not.toHaveProperty(REVISION_LABEL);
        expect(selects(selector, podLabelsOf(release))).toBe(true);
        expect(selects(selector, podLabelsOf(other))).toBe(true);
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
        const revision = revisionId(input("prod"), SECRET_CHECKSUM_PLACEHOLDER);
        const kinds = environmentManifests(readStackConfig("prod")).map((o) => `${o.kind}/${o.metadata.name}`);
        expect(kinds).toEqual([
            "Namespace/web-prod",
            "NetworkPolicy/default-deny",
            "NetworkPolicy/allow-same-environment",
            "NetworkPolicy/allow-dns",
            "NetworkPolicy/allow-ingress-controller",
            `ConfigMap/web-${revision}-config`,
            `Secret/web-${revision}-secrets`,
            `Deployment/web-${revision}`,
            "Service/web-preview",
            "Service/web",
            "PodDisruptionBudget/web",
        ]);
    });

    it("renders the revision of the secret checksum it is given", () => {
        const deployment = (sc?: string) => environmentManifests(readStackConfig("prod"), sc).find((o) => o.kind === "Deployment")!.metadata.name;
        expect(deployment("s1")).toBe(`web-${revisionId(input("prod"), "s1")}`);
        expect(deployment()).toBe(`web-${revisionId(input("prod"), SECRET_CHECKSUM_PLACEHOLDER)}`);
        expect(deployment("s1")).not.toBe(deployment());
    });
});
