import { performance } from "node:perf_hooks";
import { expect } from "vitest";
import { formatReport, runSmoke, type Check, type ErrorClass, type SmokeOptions, type SmokeReport } from "../../../smoke";

/**
 * Short polling so a failing run ends in about 1.6 s: with a 50 ms interval doubling after
 * each failure, no further attempt fits the 3 s deadline after that. The per-request timeout is
 * generous because passing runs end early anyway and CI boxes stall (load averages of 15 on
 * two cores were seen); cases about slowness set their own short timeout.
 */
export const FAST = { timeoutMs: 2500, deadlineMs: 3000, intervalMs: 50, consecutivePasses: 2 } as const;

/**
 * For runs whose verdict only comes at the deadline (transport errors, 5xx, flapping): each
 * attempt fails at once, so 1.2 s holds several attempts and the verdict is the one 3 s would give.
 */
export const UNTIL_DEADLINE = { ...FAST, deadlineMs: 1200 } as const;

/** Scheduling slack on top of the deadline: timers and socket teardown on a busy CI box. */
export const SLACK_MS = 1000;

export async function timedRun(baseUrl: string, checks: readonly Check[], options: SmokeOptions): Promise<{ report: SmokeReport; wallMs: number }> {
    const t0 = performance.now();
    const report = await runSmoke(baseUrl, checks, options);
    return { report, wallMs: performance.now() - t0 };
}

/**
 * The verdict, per check: those in `failing` failed with that class and the rest passed; the
 * text report names each failing check and its class; the run stayed within its deadline.
 */
export function expectVerdict(run: { report: SmokeReport; wallMs: number }, failing: Record<string, ErrorClass>, deadlineMs: number): string {
    const { report, wallMs } = run;
    const text = formatReport(report);
    expect(report.ok, text).toBe(Object.keys(failing).length === 0);
    for (const c of report.checks) {
        const cls = failing[c.name];
        if (cls) {
            expect({ name: c.name, passed: c.passed, errorClass: c.errorClass }, text).toEqual({ name: c.name, passed: false, errorClass: cls });
            expect(c.seen, text).toBeTruthy();
            expect(c.attempts).toBeGreaterThanOrEqual(1);
            expect(text).toMatch(new RegExp(`FAIL\\s+${c.name}\\s+\\S+\\s+${escape(c.url)}\\s+\\[${cls}\\]`));
        } else {
            expect({ name: c.name, passed: c.passed }, text).toEqual({ name: c.name, passed: true });
        }
    }
    expect(
        Object.keys(failing).every((n) => report.checks.some((c) => c.name === n)),
        "a failing check is missing from the report",
    ).toBe(true);
    expect(wallMs).toBeLessThanOrEqual(deadlineMs + SLACK_MS);
    expect(report.elapsedMs).toBeLessThanOrEqual(deadlineMs + SLACK_MS);
    return text;
}

function escape(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function check(report: SmokeReport, name: string) {
    const c = report.checks.find((x) => x.name === name);
    if (!c) throw new Error(`no check ${name} in report`);
    return c;
}
