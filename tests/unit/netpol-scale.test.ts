// The evaluator at scale: the per-policy reachability index gives the same verdict as evaluating
// cell by cell, and a report over a thousand namespaces stays bounded (summaries and counted
// findings; the full matrix only on request). Speed itself is measured by `npm run bench`.
import { describe, expect, it } from "vitest";
import { namespaceObjects } from "../../bench/netcheck-fixture";
import { Bitset, checkIsolation, createEvaluator, isolationModelFromManifests, renderReport, reportText } from "../../netpol";
import { mulberry32, ORACLE_MODEL, ORACLE_PROBES, policySet } from "../oracle/generate";

describe("the reachability index", () => {
    it("agrees with evaluate() on every cell of 100 generated policy sets", () => {
        const rng = mulberry32(20261202);
        for (let set = 0; set < 100; set++) {
            const policies = policySet(rng, set);
            const evaluator = createEvaluator(ORACLE_MODEL, policies);
            const index = evaluator.reach(ORACLE_PROBES);
            const ids = index.endpoints.map((e) => e.id);
            const everyone = new Bitset(ids.length);
            ids.forEach((_, i) => everyone.add(i));
            const disagreements: string[] = [];
            ORACLE_PROBES.forEach((probe, p) => {
                ids.forEach((from, i) => {
                    const reached = new Set<number>();
                    index.forEachReachable(i, p, everyone, (j) => reached.add(j));
                    ids.forEach((to, j) => {
                        if (i === j) return;
                        const cell = evaluator.evaluate({ from, to, port: probe.port, protocol: probe.protocol }).allowed;
                        if (index.allowed(i, j, p) !== cell || reached.has(j) !== cell)
                            disagreements.push(`set ${set} ${from} -> ${to} ${probe.name}: evaluate says ${cell}`);
                    });
                });
            });
            expect(disagreements).toEqual([]);
        }
    });
});

/** N namespaces of the benchmark's shape (team-<i>-<env>, the project's four policies each). */
function scaled(namespaces: number, workloads: number): unknown[] {
    return Array.from({ length: namespaces }, (_, i) => namespaceObjects(i, workloads)).flat();
}

describe("a report over a thousand namespaces", () => {
    it("is a bounded summary, not a matrix, and counts what it judged", () => {
        const { model, policies, warnings } = isolationModelFromManifests(scaled(1000, 2));
        const report = checkIsolation(model, policies);
        const text = renderReport(model, { ...report, warnings: [...warnings, ...report.warnings] }, "1,000 namespaces");
        expect(report.ok).toBe(true);
        expect(text.length).toBeLessThan(8_000);
        // 2,000 app pods, kube-dns, the ingress controller and the attacker's copies of a prod namespace's 2 pods.
        expect(text).toContain("Judged 2,004 endpoints in 1,003 namespaces (1,000 environment namespaces: dev, staging, prod)");
        expect(text).toContain("The full matrix (12,042,036 cells) is not printed; --matrix prints it.");
        // 668 dev pods against the 1,332 others, 666 staging and 666 prod pods against 1,334 each, on three probes.
        expect(report.counts["cross-environment"].connections).toBe(3 * (668 * 1332 + 666 * 1334 + 666 * 1334));
        expect(text).toMatch(/cross-environment +7,999,992 connections judged, 0 pod pairs open/);
        expect(text).toContain("and 324 more all claim environment=dev");
    });

    it("explains the first findings and counts the rest when every namespace is open", () => {
        const objects = scaled(300, 1).filter((o) => (o as { kind: string }).kind !== "NetworkPolicy");
        const { model, policies } = isolationModelFromManifests(objects);
        const report = checkIsolation(model, policies, { maxFindings: 5 });
        // 100 pods per environment, each reaching the 200 of the other two; the attacker reaches all 300.
        expect(report.counts["cross-environment"].findings).toBe(300 * 200);
        expect(report.counts["spoof-admitted"].findings).toBe(300);
        expect(report.findingCount).toBe(60_300);
        expect(report.findings).toHaveLength(5);
        expect(report.findings[0]!.message).toMatch(/^team-0-dev\/web \(dev\) can reach team-0-staging\/web \(staging\) on TCP 8080 \(app\)/);
        const text = renderReport(model, report, "open");
        expect(text).toContain("FAILED: 60,300 findings:");
        expect(text).toContain("... and 60,295 more, counted above per requirement (--max-findings N explains more)");
        expect(text.length).toBeLessThan(12_000);
    });

    it("gives the matrix on request as a stream of rows", () => {
        const { model, policies } = isolationModelFromManifests(scaled(30, 1));
        const report = checkIsolation(model, policies);
        const chunks = [...reportText(model, report, "30 namespaces", { matrix: true })];
        // One chunk per table row, so a caller writes it as it goes.
        const rows = chunks.filter((c) => /^ *\d+ [\w-]+\/[\w-]+ /.test(c));
        expect(rows).toHaveLength(report.evaluator.endpoints.length * model.probes.length);
        expect(rows[0]).toMatch(/^ 1 team-0-dev\/web \[dev\] +- +deny +deny /);
    });
});

describe("named ports", () => {
    it("warns about a named port no selected container declares (a typo such as htpp)", () => {
        const objects = [
            ...namespaceObjects(0, 1),
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "allow-typo", namespace: "team-0-dev" },
                spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: "htpp" }] }] },
            },
        ];
        const { model, policies } = isolationModelFromManifests(objects);
        const report = checkIsolation(model, policies);
        expect(report.warnings).toEqual([
            'NetworkPolicy team-0-dev/allow-typo: ingress[0].ports[0] names port "htpp", but no container of the pods it selects (team-0-dev/web) declares a port of that name, so it admits nothing. Port names there: http. Fix: use one of those names or the port number',
        ]);
    });
});
