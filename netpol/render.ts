// Text and JSON renderings of a connectivity matrix and its findings, shared by the CLI and
// anything else that prints a report. The wording insists on what a verdict is: the meaning of the
// policies, not an observation of a live network (FAULTS 12).
import type { IsolationReport } from "./judge";
import type { ConnectivityMatrix, IsolationModel } from "./types";

export const SEMANTICS_NOTE =
    "Verdicts are the NetworkPolicies' semantics (networking.k8s.io/v1), not a probe of live traffic: a cluster whose network plugin " +
    "does not enforce NetworkPolicy enforces none of this.";

/** A role tag per endpoint id, for table rows: [dev], [dns], [ingress], [spoofs prod]. */
export function roleTags(model: IsolationModel): Map<string, string> {
    const tags = new Map<string, string>();
    for (const env of model.environments) for (const pod of env.pods) tags.set(pod, env.environment);
    for (const pod of model.dns) tags.set(pod, "dns");
    for (const pod of model.ingressController.pods) tags.set(pod, "ingress");
    const spoofed = model.environments.find((e) => e.namespace === model.attacker?.impersonates)?.environment ?? "?";
    for (const pod of model.attacker?.pods ?? []) tags.set(pod, `attacker, spoofs ${spoofed}`);
    return tags;
}

/**
 * One table per probe: rows are sources, columns destinations (numbered like the rows).
 * `allow` / `deny`; `-` where the matrix holds no cell (a pod and itself).
 */
export function renderMatrix(matrix: ConnectivityMatrix, tags: ReadonlyMap<string, string> = new Map()): string {
    const ids = matrix.endpoints.map((e) => e.id).filter((id) => matrix.cells.some((c) => c.from === id || c.to === id));
    const label = (id: string, i: number) => `${String(i + 1).padStart(2)} ${id}${tags.has(id) ? ` [${tags.get(id)}]` : ""}`;
    const rowWidth = Math.max(...ids.map((id, i) => label(id, i).length), 10);
    const cell = new Map(matrix.cells.map((c) => [`${c.from}\u0000${c.to}\u0000${c.probe}`, c]));
    const out: string[] = [];
    for (const probe of matrix.probes) {
        out.push(`${probe.name}: ${probe.protocol} ${probe.port}`);
        out.push(`${"from \\ to".padEnd(rowWidth)} ${ids.map((_, j) => String(j + 1).padStart(5)).join(" ")}`);
        ids.forEach((from, i) => {
            const marks = ids.map((to) => {
                const c = cell.get(`${from}\u0000${to}\u0000${probe.name}`);
                return (c === undefined ? "-" : c.allowed ? "allow" : "deny").padStart(5);
            });
            out.push(`${label(from, i).padEnd(rowWidth)} ${marks.join(" ")}`);
        });
        out.push("");
    }
    return out.join("\n");
}

/** The whole human report: matrix, warnings, findings, verdict line and the semantics note. */
export function renderReport(model: IsolationModel, report: IsolationReport, source: string): string {
    const out: string[] = [`NetworkPolicy connectivity from ${source}`, "", renderMatrix(report.matrix, roleTags(model))];
    if (report.warnings.length > 0) {
        out.push("Warnings:", ...report.warnings.map((w) => `  - ${w}`), "");
    }
    if (report.findings.length === 0) {
        out.push(
            `OK: the ${model.environments.map((e) => e.environment).join(", ")} environments are isolated from each other` +
                `${model.attacker ? `, the spoofing namespace ${model.attacker.namespace} is denied` : ""}, DNS and the ingress controller (${model.ingressController.namespace}) are allowed.`,
        );
    } else {
        out.push(`FAILED: ${report.findings.length} finding${report.findings.length === 1 ? "" : "s"}:`);
        for (const f of report.findings) out.push(`  - [${f.kind}] ${f.message}`);
    }
    out.push("", SEMANTICS_NOTE);
    return out.join("\n") + "\n";
}

/** A plain, stable JSON shape of the report for `--json`. */
export function reportJson(model: IsolationModel, report: IsolationReport, source: string): unknown {
    return {
        source,
        semantics: SEMANTICS_NOTE,
        ok: report.ok,
        environments: model.environments.map((e) => ({
            environment: e.environment,
            namespace: e.namespace,
            pods: e.pods,
            apps: e.apps.map((a) => ({ pod: a.pod, probe: a.probe.name })),
        })),
        dns: model.dns,
        ingressController: model.ingressController,
        attacker: model.attacker ?? null,
        endpoints: report.matrix.endpoints,
        probes: report.matrix.probes,
        cells: report.matrix.cells.map((c) => ({
            from: c.from,
            to: c.to,
            probe: c.probe,
            port: c.port,
            protocol: c.protocol,
            allowed: c.allowed,
            reason: c.reason,
            egress: { allowed: c.egress.allowed, isolatedBy: c.egress.isolatedBy, allowedBy: c.egress.allowedBy },
            ingress: { allowed: c.ingress.allowed, isolatedBy: c.ingress.isolatedBy, allowedBy: c.ingress.allowedBy },
        })),
        findings: report.findings,
        warnings: report.warnings,
    };
}
