// What the isolation builders mean, not what they look like: the three committed stacks'
// policies, evaluated together by the project's NetworkPolicy evaluator over a model of the
// cluster (the three environments, kube-dns, the ingress controller, and an attacker namespace
// that labels itself environment=prod).
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
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
const manifests = [...ENVIRONMENTS.flatMap((env) => environmentManifests(readStackConfig(env))), worker];
const { model, policies } = isolationModelFromManifests(manifests);
const evaluator = createEvaluator(model, policies);
const allowed = (from: string, to: string, port: number, protocol: "TCP" | "UDP" = "TCP") => evaluator.evaluate({ from, to, port, protocol }).allowed;

describe("the environments' NetworkPolicies", () => {
    it("isolate all three environments, deny the spoofer, and keep DNS and the ingress controller open", () => {
        // The worker has no Service: it is internal, so no finding says the ingress controller
        // cannot reach it.
        const report = checkIsolation(model, policies);
        expect(report.findings.map((f) => f.message)).toEqual([]);
        expect(report.ok).toBe(true);
    });

    it.each([
        ["web-prod/web", "web-dev/web"],
        ["web-dev/web", "web-prod/web"],
        ["web-staging/web", "web-prod/web"],
        ["web-prod/web", "web-staging/web"],
    ])("deny %s -> %s on the app port", (from, to) => {
        expect(allowed(from, to, 8080)).toBe(false);
    });

    it("deny a namespace that labels itself environment=prod and copies prod's pod labels", () => {
        const attacker = model.attacker!;
        expect(attacker.impersonates).toBe("web-prod");
        for (const pod of attacker.pods) {
            expect(allowed(pod, "web-prod/web", 8080)).toBe(false);
            expect(allowed("web-prod/web", pod, 8080)).toBe(false);
        }
    });

    it("allow pods of one environment to talk to each other, both ways", () => {
        expect(allowed("web-staging/worker", "web-staging/web", 8080)).toBe(true);
        expect(allowed("web-staging/web", "web-staging/worker", 9090)).toBe(true);
        expect(allowed("web-prod/web", "web-staging/worker", 9090)).toBe(false);
    });

    it.each(["UDP", "TCP"] as const)("allow DNS to kube-dns over %s 53 from every environment, and nothing else in kube-system", (protocol) => {
        for (const env of ENVIRONMENTS) {
            expect(allowed(`web-${env}/web`, "kube-system/kube-dns", 53, protocol)).toBe(true);
            expect(allowed(`web-${env}/web`, "kube-system/kube-dns", 54, protocol)).toBe(false);
        }
    });

    it("admit the ingress controller on the app port only", () => {
        const controller = model.ingressController.pods[0]!;
        for (const env of ENVIRONMENTS) {
            expect(evaluator.evaluate({ from: controller, to: `web-${env}/web`, port: 8080 }).ingress.allowed).toBe(true);
            expect(evaluator.evaluate({ from: controller, to: `web-${env}/web`, port: 9090 }).ingress.allowed).toBe(false);
        }
    });

    it("say which policy admits a path", () => {
        expect(evaluator.evaluate({ from: "web-staging/worker", to: "web-staging/web", port: 8080 }).reason).toMatch(/allow-same-environment/);
    });
});
