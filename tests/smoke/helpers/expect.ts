import { expect } from "vitest";
import { formatReport, runSmoke, validateChecks, type Check, type ErrorClass, type SmokeOptions, type SmokeReport } from "../../../smoke";
import { pauseClock } from "./clock";

/**
 * Short polling: with a 50 ms interval doubling after each failure, a failing run has made its
 * last attempt when its pauses add up to about 1.6 s of the 3 s deadline. The per-request
 * timeout is generous because CI boxes stall (load averages of 15 on two cores were seen); cases
 * about slowness set their own short timeout.
 */
export const FAST = { timeoutMs: 2500, deadlineMs: 3000, intervalMs: 50, consecutivePasses: 2 } as const;

/**
 * For runs whose verdict only comes at the deadline (transport errors, 5xx, flapping): each
 * attempt fails at once, so 1.2 s holds several attempts and the verdict is the one 3 s would give.
 */
export const UNTIL_DEADLINE = { ...FAST, deadlineMs: 1200 } as const;

/**
 * A run on a pause clock (./clock.ts): its deadline and elapsedMs count the engine's pauses, not
 * the machine's speed. `options.clock` replaces it, e.g. with the system clock for a latency.
 */
export async function timedRun(baseUrl: string, checks: readonly Check[], options: SmokeOptions): Promise<{ report: SmokeReport }> {
    return { report: await runSmoke(baseUrl, validateChecks(checks), { clock: pauseClock(), ...options }) };
}

/**
 * The verdict, per check: those in `failing` failed with that class and the rest passed; the
 * text report names each failing check and its class; no pause ran past the deadline (on the
 * run's own clock, which for timedRun is the pause clock).
 */
export function expectVerdict(run: { report: SmokeReport }, failing: Record<string, ErrorClass>, deadlineMs: number): string {
    const { report } = run;
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
    expect(report.elapsedMs).toBeLessThanOrEqual(deadlineMs);
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
