// Text and JSON renderings of an isolation report, shared by the CLI and anything else that
// prints one. The wording insists on what a verdict is: the meaning of the policies, not an
// observation of a live network.
//
// Output is bounded whatever the input: the matrix is printed only when it is small or asked for
// (and then produced row by row, so a caller can stream it), findings beyond the report's cap are
// counted, and long warning lists are cut with a count.
import { FINDING_KINDS, type IsolationReport } from "./judge";
import type { ConnectivityMatrix, IsolationModel } from "./types";

export const SEMANTICS_NOTE =
    "Verdicts are the NetworkPolicies' semantics (networking.k8s.io/v1), not a probe of live traffic: a cluster whose network plugin " +
    "does not enforce NetworkPolicy enforces none of this.";

/** Up to this many endpoints the text report shows the matrix without being asked. */
export const MATRIX_AUTO_MAX_ENDPOINTS = 24;
/** Warnings printed in the text report; JSON lists them all. */
export const TEXT_MAX_WARNINGS = 20;

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

const num = (n: number) => n.toLocaleString("en-US");

/**
 * One table per probe: rows are sources, columns destinations (numbered like the rows).
 * `allow` / `deny`; `-` where the matrix holds no cell (a pod and itself).
 */
export function renderMatrix(matrix: ConnectivityMatrix, tags: ReadonlyMap<string, string> = new Map()): string {
    const ids = matrix.endpoints.map((e) => e.id).filter((id) => matrix.cells.some((c) => c.from === id || c.to === id));
    const cell = new Map(matrix.cells.map((c) => [`${c.from}\u0000${c.to}\u0000${c.probe}`, c.allowed]));
    return [...tableLines(ids, matrix.probes, tags, (from, to, probe) => cell.get(`${ids[from]}\u0000${ids[to]}\u0000${matrix.probes[probe]!.name}`))].join("");
}

/** The matrix tables of a report, one line at a time (each ends with a newline). */
export function* matrixText(model: IsolationModel, report: IsolationReport): Generator<string> {
    const reach = report.evaluator.reach(model.probes);
    const endpoints = reach.endpoints;
    yield* tableLines(
        endpoints.map((e) => e.id),
        model.probes,
        roleTags(model),
        (from, to, probe) =>
            from === to || (endpoints[from]!.kind === "external" && endpoints[to]!.kind === "external") ? undefined : reach.allowed(from, to, probe),
    );
}

function* tableLines(
    ids: readonly string[],
    probes: readonly { name: string; port: number; protocol: string }[],
    tags: ReadonlyMap<string, string>,
    allowed: (from: number, to: number, probe: number) => boolean | undefined,
): Generator<string> {
    const label = (id: string, i: number) => `${String(i + 1).padStart(2)} ${id}${tags.has(id) ? ` [${tags.get(id)}]` : ""}`;
    let rowWidth = 10;
    ids.forEach((id, i) => (rowWidth = Math.max(rowWidth, label(id, i).length)));
    const width = Math.max(5, String(ids.length).length + 1);
    const columns = ids.map((_, j) => String(j + 1).padStart(width)).join(" ");
    for (let p = 0; p < probes.length; p++) {
        const probe = probes[p]!;
        yield `${probe.name}: ${probe.protocol} ${probe.port}\n`;
        yield `${"from \\ to".padEnd(rowWidth)} ${columns}\n`;
        for (let i = 0; i < ids.length; i++) {
            const marks: string[] = new Array<string>(ids.length);
            for (let j = 0; j < ids.length; j++) {
                const v = allowed(i, j, p);
                marks[j] = (v === undefined ? "-" : v ? "allow" : "deny").padStart(width);
            }
            yield `${label(ids[i]!, i).padEnd(rowWidth)} ${marks.join(" ")}\n`;
        }
        yield "\n";
    }
}

export interface RenderOptions {
    /** Print the matrix: true always, false never. @default - when the model has at most MATRIX_AUTO_MAX_ENDPOINTS endpoints */
    readonly matrix?: boolean;
}

/** What was judged and how much broke, one line per requirement. */
function summaryLines(model: IsolationModel, report: IsolationReport, matrixShown: boolean): string[] {
    const endpoints = report.evaluator.endpoints.length;
    const namespaces = new Set(model.namespaces.map((n) => n.name)).size;
    const labels = [...new Set(model.environments.map((e) => e.environment))];
    const probes = model.probes.map((p) => `${p.name} ${p.protocol} ${p.port}`).join(", ");
    const out = [
        `Judged ${num(endpoints)} endpoints in ${num(namespaces)} namespaces (${num(model.environments.length)} environment namespace${model.environments.length === 1 ? "" : "s"}: ${labels.join(", ")}) on ${probes}.`,
    ];
    if (!matrixShown) {
        const cells = endpoints * Math.max(endpoints - 1, 0) * model.probes.length;
        out.push(`The full matrix (${num(cells)} cells) is not printed; --matrix prints it.`);
    }
    const verb = { "cross-environment": "open", "spoof-admitted": "admitted", "dns-blocked": "blocked", "ingress-blocked": "blocked" } as const;
    for (const kind of FINDING_KINDS) {
        const c = report.counts[kind];
        out.push(
            `  ${kind.padEnd(18)} ${num(c.connections).padStart(14)} connections judged, ${num(c.findings)} pod pair${c.findings === 1 ? "" : "s"} ${verb[kind]}`,
        );
    }
    return out;
}

/** The whole human report, in chunks: matrix (if shown), summary, warnings, findings, verdict, semantics note. */
export function* reportText(model: IsolationModel, report: IsolationReport, source: string, opts: RenderOptions = {}): Generator<string> {
    yield `NetworkPolicy connectivity from ${source}\n\n`;
    const showMatrix = opts.matrix ?? report.evaluator.endpoints.length <= MATRIX_AUTO_MAX_ENDPOINTS;
    if (showMatrix) yield* matrixText(model, report);
    const out: string[] = [...summaryLines(model, report, showMatrix), ""];
    if (report.warnings.length > 0) {
        out.push("Warnings:", ...report.warnings.slice(0, TEXT_MAX_WARNINGS).map((w) => `  - ${w}`));
        if (report.warnings.length > TEXT_MAX_WARNINGS)
            out.push(`  ... and ${num(report.warnings.length - TEXT_MAX_WARNINGS)} more (--json lists every warning)`);
        out.push("");
    }
    if (report.ok) {
        out.push(
            `OK: the ${[...new Set(model.environments.map((e) => e.environment))].join(", ")} environments are isolated from each other` +
                `${model.attacker ? `, the spoofing namespace ${model.attacker.namespace} is denied` : ""}, DNS and the ingress controller (${model.ingressController.namespace}) are allowed.`,
        );
    } else {
        out.push(`FAILED: ${num(report.findingCount)} finding${report.findingCount === 1 ? "" : "s"}:`);
        for (const f of report.findings) out.push(`  - [${f.kind}] ${f.message}`);
        const rest = report.findingCount - report.findings.length;
        if (rest > 0) out.push(`  ... and ${num(rest)} more, counted above per requirement (--max-findings N explains more)`);
    }
    out.push("", SEMANTICS_NOTE);
    yield out.join("\n") + "\n";
}

/** The whole human report as one string (for small models and tests; the CLI streams reportText). */
export function renderReport(model: IsolationModel, report: IsolationReport, source: string, opts: RenderOptions = {}): string {
    return [...reportText(model, report, source, opts)].join("");
}

/** A plain, stable JSON shape of the report for `--json`, without the matrix. */
export function reportJson(model: IsolationModel, report: IsolationReport, source: string): Record<string, unknown> {
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
        endpoints: report.evaluator.endpoints,
        probes: model.probes,
        counts: report.counts,
        findingCount: report.findingCount,
        findings: report.findings,
        warnings: report.warnings,
    };
}

/**
 * `--json` as chunks: the report object, and with `matrix` a `cells` array of every
 * (source, destination, probe) with its reasons, produced one cell at a time.
 */
export function* reportJsonText(model: IsolationModel, report: IsolationReport, source: string, opts: { matrix?: boolean } = {}): Generator<string> {
    const head = JSON.stringify(reportJson(model, report, source), null, 2);
    if (!opts.matrix) {
        yield head + "\n";
        return;
    }
    yield `${head.slice(0, head.lastIndexOf("}")).trimEnd()},\n  "cells": [`;
    const { evaluator } = report;
    const endpoints = evaluator.modelEndpoints;
    let first = true;
    for (const from of endpoints) {
        const chunk: string[] = [];
        for (const to of endpoints) {
            if (from === to || (from.kind === "external" && to.kind === "external")) continue;
            for (const probe of model.probes) {
                const c = evaluator.evaluate({ from: from.id, to: to.id, port: probe.port, protocol: probe.protocol });
                const cell = {
                    from: c.from,
                    to: c.to,
                    probe: probe.name,
                    port: c.port,
                    protocol: c.protocol,
                    allowed: c.allowed,
                    reason: c.reason,
                    egress: { allowed: c.egress.allowed, isolatedBy: c.egress.isolatedBy, allowedBy: c.egress.allowedBy },
                    ingress: { allowed: c.ingress.allowed, isolatedBy: c.ingress.isolatedBy, allowedBy: c.ingress.allowedBy },
                };
                chunk.push(`${first ? "" : ","}\n    ${JSON.stringify(cell)}`);
                first = false;
            }
        }
        if (chunk.length > 0) yield chunk.join("");
    }
    yield "\n  ]\n}\n";
}
