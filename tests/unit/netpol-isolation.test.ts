// The seed's own policy and its two flaws, a correct policy set, and the isolation judge's
// findings and messages, on the default model and on the manifest fixtures.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { checkIsolation, createEvaluator, defaultIsolationModel, isolationModelFromManifests, NAMESPACE_NAME_LABEL, renderReport } from "../../netpol";

const FIXTURES = path.resolve(__dirname, "../fixtures/netpol");
const ENVS = ["dev", "staging", "prod"] as const;

function fixture(name: string): unknown[] {
    const dir = path.join(FIXTURES, name);
    return fs
        .readdirSync(dir)
        .sort()
        .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS() as unknown));
}

/** The seed's policy for one environment, exactly as the seed wrote it. */
const seedPolicy = (env: string) => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "deny-cross-env", namespace: env },
    spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { environment: env } } }] }],
    },
});

/** What the seed should have said: default deny, same namespace, DNS, ingress controller. */
const goodPolicies = (env: string, ingressNamespace = "ingress-nginx") => {
    const np = (name: string, spec: Record<string, unknown>) => ({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace: env },
        spec,
    });
    return [
        np("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
        np("allow-same-environment", {
            podSelector: {},
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [{ podSelector: {} }] }],
            egress: [{ to: [{ podSelector: {} }] }],
        }),
        np("allow-dns", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [
                        {
                            namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "kube-system" } },
                            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                        },
                    ],
                    ports: [
                        { protocol: "UDP", port: 53 },
                        { protocol: "TCP", port: 53 },
                    ],
                },
            ],
        }),
        np("allow-ingress-controller", {
            podSelector: {},
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: ingressNamespace } } }], ports: [{ port: 8080 }] }],
        }),
    ];
};

describe("the default model", () => {
    const model = defaultIsolationModel();
    it("has the three environments, kube-dns, the ingress controller and an attacker spoofing prod", () => {
        expect(model.environments.map((e) => [e.environment, e.pods])).toEqual([
            ["dev", ["dev/app"]],
            ["staging", ["staging/app"]],
            ["prod", ["prod/app"]],
        ]);
        expect(model.dns).toEqual(["kube-system/kube-dns"]);
        expect(model.pods.find((p) => p.name === "kube-dns")?.labels).toEqual({ "k8s-app": "kube-dns" });
        expect(model.ingressController).toEqual({ namespace: "ingress-nginx", pods: ["ingress-nginx/controller"] });
        expect(model.attacker).toEqual({ namespace: "attacker", pods: ["attacker/app"], impersonates: "prod" });
        expect(model.namespaces.find((n) => n.name === "attacker")?.labels).toEqual({ environment: "prod" });
        // The attacker copies the prod pod's labels too: a podSelector alone does not stop it.
        expect(model.pods.find((p) => p.namespace === "attacker")?.labels).toEqual(model.pods.find((p) => p.namespace === "prod")?.labels);
        expect(model.probes.map((p) => `${p.name} ${p.protocol} ${p.port}`)).toEqual(["app TCP 8080", "dns-udp UDP 53", "dns-tcp TCP 53"]);
    });

    it("takes another ingress namespace and app port", () => {
        const m = defaultIsolationModel({ ingressNamespace: "traefik", appPort: 3000 });
        expect(m.ingressController.namespace).toBe("traefik");
        expect(m.probes[0]).toEqual({ name: "app", port: 3000, protocol: "TCP" });
    });
});

describe("the seed's policy", () => {
    const model = defaultIsolationModel();
    const evaluator = createEvaluator(model, ENVS.map(seedPolicy));

    it("flaw (a): Egress listed with no egress rule denies ALL egress, DNS on UDP and TCP included", () => {
        for (const env of ENVS) {
            for (const protocol of ["UDP", "TCP"] as const) {
                const v = evaluator.evaluate({ from: `${env}/app`, to: "kube-system/kube-dns", port: 53, protocol });
                expect(v.allowed).toBe(false);
                expect(v.egress).toMatchObject({ allowed: false, isolated: true, isolatedBy: [`${env}/deny-cross-env`], allowedBy: [] });
                expect(v.ingress.allowed).toBe(true); // kube-system is not isolated: the block is ours
                expect(v.reason).toBe(
                    `denied: egress from ${env}/app: isolated by ${env}/deny-cross-env; no egress rule allows ${protocol} 53 to kube-system/kube-dns`,
                );
            }
            // Not just DNS: nothing leaves, not even to the environment's own namespace's peers.
            const out = evaluator.matrix(model.probes, { from: [`${env}/app`] }).cells;
            expect(out.every((c) => !c.allowed && !c.egress.allowed)).toBe(true);
        }
    });

    it("flaw (b): a namespace that labels itself environment=prod is admitted to prod", () => {
        const v = evaluator.evaluate({ from: "attacker/app", to: "prod/app", port: 8080 });
        expect(v.allowed).toBe(true);
        expect(v.ingress.allowedBy).toEqual([{ policy: "prod/deny-cross-env", direction: "ingress", rule: 0 }]);
        expect(v.reason).toBe(
            "allowed: egress from attacker/app: not isolated (no policy selects it for Egress); ingress to prod/app: allowed by prod/deny-cross-env ingress[0]",
        );
        // The real environments stay out of each other: the flaw is the label, not the shape.
        expect(evaluator.evaluate({ from: "staging/app", to: "prod/app", port: 8080 }).allowed).toBe(false);
    });

    it("is judged: spoof admitted to prod, DNS blocked and ingress controller blocked in every environment", () => {
        const report = checkIsolation(model, ENVS.map(seedPolicy));
        expect(report.ok).toBe(false);
        expect(report.findings.map((f) => `${f.kind} ${f.from} -> ${f.to} [${f.probes.join(",")}]`)).toEqual([
            "spoof-admitted attacker/app -> prod/app [app,dns-udp,dns-tcp]",
            "dns-blocked dev/app -> kube-system/kube-dns [dns-udp,dns-tcp]",
            "ingress-blocked ingress-nginx/controller -> dev/app [app]",
            "dns-blocked staging/app -> kube-system/kube-dns [dns-udp,dns-tcp]",
            "ingress-blocked ingress-nginx/controller -> staging/app [app]",
            "dns-blocked prod/app -> kube-system/kube-dns [dns-udp,dns-tcp]",
            "ingress-blocked ingress-nginx/controller -> prod/app [app]",
        ]);
        const spoof = report.findings[0]!.message;
        expect(spoof).toContain(
            "namespace attacker, which copies prod's labels (environment=prod) but is no environment, is admitted to prod/app (prod) on TCP 8080 (app)",
        );
        expect(spoof).toContain("allowed by prod/deny-cross-env ingress[0]");
        expect(spoof).toContain("Fix: select namespaces by `kubernetes.io/metadata.name`");
        const dns = report.findings[1]!.message;
        expect(dns).toContain("dev/app (dev) cannot reach DNS at kube-system/kube-dns on UDP 53 (dns-udp), TCP 53 (dns-tcp)");
        expect(dns).toContain("isolated by dev/deny-cross-env; no egress rule allows UDP 53 / TCP 53 to kube-system/kube-dns");
        expect(dns).toContain("Listing Egress in policyTypes with no egress rule denies all egress, DNS included.");
        expect(report.findings[2]!.message).toContain("no ingress rule allows TCP 8080 from ingress-nginx/controller");
    });

    it("shows the same two flaws from the seed fixture's manifests", () => {
        const { model: m, policies } = isolationModelFromManifests(fixture("seed"));
        const kinds = checkIsolation(m, policies).findings.map((f) => f.kind);
        expect(kinds.filter((k) => k === "spoof-admitted")).toHaveLength(1);
        expect(kinds.filter((k) => k === "dns-blocked")).toHaveLength(3);
        expect(kinds).not.toContain("cross-environment");
    });
});

describe("a correct policy set", () => {
    const model = defaultIsolationModel();
    const policies = ENVS.flatMap((env) => goodPolicies(env));

    it("isolates: no cross-environment path, the spoof denied, DNS and ingress allowed", () => {
        const report = checkIsolation(model, policies);
        expect(report.findings).toEqual([]);
        expect(report.ok).toBe(true);
        const ev = createEvaluator(model, policies);
        const spoof = ev.evaluate({ from: "attacker/app", to: "prod/app", port: 8080 });
        expect(spoof.allowed).toBe(false);
        expect(spoof.reason).toBe(
            "denied: ingress to prod/app: isolated by prod/default-deny, prod/allow-same-environment, prod/allow-ingress-controller; no ingress rule allows TCP 8080 from attacker/app",
        );
        expect(ev.evaluate({ from: "prod/app", to: "kube-system/kube-dns", port: 53, protocol: "UDP" }).egress.allowedBy).toEqual([
            { policy: "prod/allow-dns", direction: "egress", rule: 0 },
        ]);
        expect(ev.evaluate({ from: "ingress-nginx/controller", to: "prod/app", port: 8080 }).ingress.allowedBy).toEqual([
            { policy: "prod/allow-ingress-controller", direction: "ingress", rule: 0 },
        ]);
        // The ingress controller gets the app port only.
        expect(ev.evaluate({ from: "ingress-nginx/controller", to: "prod/app", port: 53, protocol: "TCP" }).allowed).toBe(false);
    });

    it("the good fixture's manifests isolate too", () => {
        const { model: m, policies: p, warnings } = isolationModelFromManifests(fixture("good"));
        expect(warnings).toEqual([]);
        expect(checkIsolation(m, p).findings).toEqual([]);
    });

    it("breaks when one environment admits every namespace (empty namespaceSelector)", () => {
        const open = [
            ...policies,
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "allow-all-ns", namespace: "prod" },
                spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] },
            },
        ];
        const findings = checkIsolation(model, open).findings;
        // dev and staging cannot leave (their egress is isolated); the attacker is not isolated.
        expect(findings.map((f) => `${f.kind} ${f.from} -> ${f.to}`)).toEqual(["spoof-admitted attacker/app -> prod/app"]);
        expect(findings[0]!.message).toContain("allowed by prod/allow-all-ns ingress[0]");
    });

    it("breaks both ways when egress is open too", () => {
        const open = [
            ...policies,
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "allow-all-ns", namespace: "prod" },
                spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] },
            },
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "egress-anywhere", namespace: "dev" },
                spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{}] },
            },
        ];
        const kinds = checkIsolation(model, open).findings.map((f) => `${f.kind} ${f.from} -> ${f.to} [${f.probes.join(",")}]`);
        expect(kinds).toContain("cross-environment dev/app -> prod/app [app,dns-udp,dns-tcp]");
        expect(kinds.some((k) => k.startsWith("cross-environment dev/app -> staging/app"))).toBe(false);
    });

    it("flags an ingress controller admitted from the wrong namespace", () => {
        const report = checkIsolation(defaultIsolationModel({ ingressNamespace: "traefik" }), policies);
        expect(report.findings.map((f) => f.kind)).toEqual(["ingress-blocked", "ingress-blocked", "ingress-blocked"]);
        expect(report.findings[0]!.message).toContain("the ingress controller traefik/controller cannot reach dev/app (dev) on TCP 8080 (app)");
    });

    it("renders a table that says what the verdicts are", () => {
        const text = renderReport(model, checkIsolation(model, policies), "a test");
        expect(text).toContain(" 6 attacker/app [attacker, spoofs prod]");
        expect(text).toContain(
            "OK: the dev, staging, prod environments are isolated from each other, the spoofing namespace attacker is denied, DNS and the ingress controller (ingress-nginx) are allowed.",
        );
        expect(text).toContain("not a probe of live traffic");
        expect(text).not.toMatch(/enforced|proven/i);
    });
});
