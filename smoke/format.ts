// Terminal rendering of a SmokeReport. Plain text, no colour codes: the same text lands in
// `pulumi up` error output, CI logs and terminals.
import type { CheckReport, SmokeReport } from "./types";

function seconds(ms: number): string {
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function pad(s: string, n: number): string {
    return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function classes(c: CheckReport): string {
    const parts = Object.entries(c.failuresByClass).map(([k, v]) => `${k} ${v}`);
    return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

export function formatReport(report: SmokeReport): string {
    const failed = report.checks.filter((c) => !c.passed);
    const s = report.settings;
    const head = report.ok
        ? `smoke PASSED: ${report.checks.length} check${report.checks.length === 1 ? "" : "s"} against ${report.baseUrl} in ${seconds(report.elapsedMs)}`
        : `smoke FAILED: ${failed.length} of ${report.checks.length} checks failed against ${report.baseUrl} after ${seconds(report.elapsedMs)}` +
          (report.stoppedBy !== undefined ? ` (${report.stoppedBy} failed for good before the deadline)` : "");
    const limit = s.failureLimit === 0 ? "no failure limit" : `failure limit ${s.failureLimit}`;
    const lines = [
        head,
        `  deadline ${seconds(s.deadlineMs)}, timeout ${seconds(s.timeoutMs)}, interval ${seconds(s.intervalMs)}, ${s.consecutivePasses} consecutive passes required, ${limit}${s.customCa ? ", custom CA" : ""}`,
        "",
    ];
    const nameWidth = Math.max(...report.checks.map((c) => c.name.length), 4);
    const methodWidth = Math.max(...report.checks.map((c) => c.method.length), 3);
    for (const c of report.checks) {
        const verdict = c.passed ? "PASS" : "FAIL";
        const cls = c.passed ? "" : `  [${c.errorClass}]`;
        const latency = c.latencyMs !== undefined ? `, last ${c.latencyMs} ms` : "";
        lines.push(`  ${verdict}  ${pad(c.name, nameWidth)}  ${pad(c.method, methodWidth)}  ${c.url}${cls}`);
        const final = c.final ? ` (final: the same failure ${s.failureLimit} times in a row)` : "";
        lines.push(
            `        ${c.attempts} attempt${c.attempts === 1 ? "" : "s"}, ${c.failures} failed${classes(c)}${latency}, settled after ${seconds(c.elapsedMs)}${final}`,
        );
        if (!c.passed) {
            lines.push(`        expected: ${c.expected}`);
            lines.push(`        seen:     ${c.seen ?? "-"}`);
        }
    }
    return lines.join("\n");
}
