// What the isolation builders mean, not what they look like: the three committed stacks'
// policies, evaluated together by the project's NetworkPolicy evaluator over a model of the
// cluster (the three environments, kube-dns, the ingress controller, and an attacker namespace
// that labels itself environment=prod). The model names each pod after its workload: the app's is
// the candidate revision's Deployment, `web-<revision>`, taken from the same render.
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { readStackConfig } from "../../config/stackFile";
import { environmentManifests } from "../../components/manifests";
import { checkIsolation, createEvaluator, isolationModelFromManifests } from "../../netpol";

// A second workload in staging, to show traffic within one environment stays open.
const worker = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "worker", namespace: "web-staging" },
    spec: { template: { metadata: { labels: { "app.kubernetes.io/name": "worker" } }, spec: { containers: [{ name: "w", ports: [{ containerPort: 9090 }] }] } } },
};
const rendered = Object.fromEntries(ENVIRONMENTS.map((env) => [env, environmentManifests(readStackConfig(env))])) as Record<EnvironmentName, ReturnType<typeof environmentManifests>>;
const manifests = [...ENVIRONMENTS.flatMap((env) => rendered[env]), worker];
const { model, policies } = isolationModelFromManifests(manifests);
const evaluator = createEvaluator(model, policies);
const allowed = (from: string, to: string, port: number, protocol: "TCP" | "UDP" = "TCP") => evaluator.evaluate({ from, to, port, protocol }).allowed;

/** The app pod of an environment: `web-<env>/<its Deployment>`. */
const app = (env: EnvironmentName) => {
    const deployments = rendered[env].filter((o) => o.kind === "Deployment");
    expect(deployments).toHaveLength(1);
    return `web-${env}/${deployments[0]!.metadata.name}`;
};

describe("the environments' NetworkPolicies", () => {
    it("isolate all three environments, deny the spoofer, and keep DNS and the ingress controller open", () => {
        // The worker has no Service: it is internal, so no finding says the ingress controller
        // cannot reach it.
        const report = checkIsolation(model, policies);
        expect(report.findings.map((f) => f.message)).toEqual([]);
        expect(report.ok).toBe(true);
    });

    it("model each environment's app as its candidate revision's pod", () => {
        for (const env of ENVIRONMENTS) {
            expect(app(env)).toMatch(new RegExp(`^web-${env}/web-[0-9a-f]{10}$`));
            expect(model.environments.find((e) => e.environment === env)!.apps.map((a) => [a.pod, a.probe.port])).toEqual([[app(env), 8080]]);
        }
    });

    it.each<[EnvironmentName, EnvironmentName]>([
        ["prod", "dev"],
        ["dev", "prod"],
        ["staging", "prod"],
        ["prod", "staging"],
    ])("deny web-%s -> web-%s on the app port", (from, to) => {
        expect(allowed(app(from), app(to), 8080)).toBe(false);
    });

    it("deny a namespace that labels itself environment=prod and copies prod's pod labels", () => {
        const attacker = model.attacker!;
        expect(attacker.impersonates).toBe("web-prod");
        expect(attacker.pods.length).toBeGreaterThan(0);
        for (const pod of attacker.pods) {
            expect(allowed(pod, app("prod"), 8080)).toBe(false);
            expect(allowed(app("prod"), pod, 8080)).toBe(false);
        }
    });

    it("allow pods of one environment to talk to each other, both ways", () => {
        expect(allowed("web-staging/worker", app("staging"), 8080)).toBe(true);
        expect(allowed(app("staging"), "web-staging/worker", 9090)).toBe(true);
        expect(allowed(app("prod"), "web-staging/worker", 9090)).toBe(false);
    });

    it.each(["UDP", "TCP"] as const)("allow DNS to kube-dns over %s 53 from every environment, and nothing else in kube-system", (protocol) => {
        for (const env of ENVIRONMENTS) {
            expect(allowed(app(env), "kube-system/kube-dns", 53, protocol)).toBe(true);
            expect(allowed(app(env), "kube-system/kube-dns", 54, protocol)).toBe(false);
        }
    });

    it("admit the ingress controller on the app port only", () => {
        const controller = model.ingressController.pods[0]!;
        for (const env of ENVIRONMENTS) {
            expect(evaluator.evaluate({ from: controller, to: app(env), port: 8080 }).ingress.allowed).toBe(true);
            expect(evaluator.evaluate({ from: controller, to: app(env), port: 9090 }).ingress.allowed).toBe(false);
        }
    });

    it("say which policy admits a path", () => {
        expect(evaluator.evaluate({ from: "web-staging/worker", to: app("staging"), port: 8080 }).reason).toMatch(/allow-same-environment/);
    });
});
