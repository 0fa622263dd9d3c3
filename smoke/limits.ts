// The limits on smoke timing, in one place: the engine (resolveSmokeOptions, so the CLI and the
// SmokeTest provider) and the stack config's edge (config/groups/smoke.ts) both judge settings by
// these, so a setting the edge accepts is never refused later, after the app was rolled out.

/** Inclusive bounds of each setting. */
export const SMOKE_LIMITS = {
    timeoutMs: { min: 1, max: 3_600_000 },
    deadlineMs: { min: 1, max: 3_600_000 },
    intervalMs: { min: 1, max: 600_000 },
    consecutivePasses: { min: 1, max: 100 },
    /** 0 turns the failure limit off: only the deadline ends a failing check. */
    failureLimit: { min: 0, max: 100 },
} as const;

/**
 * The pause between the consecutive passes of a healthy check. `intervalMs` is the pause after a
 * failure (doubled after each further one); a passing check need not wait that long to pass again.
 */
export const PASS_INTERVAL_MS = 100;

/**
 * The default of each smoke setting, the one table every reader takes it from: the engine
 * (runSmoke, so `progression smoke`), the SmokeTest component, and the stack config
 * (config/groups/smoke.ts), whose Pulumi.yaml defaults tests/unit/config.test.ts holds to it.
 */
export const SMOKE_DEFAULTS = {
    timeoutMs: 5_000,
    /** Long enough for a candidate that is Ready but still warming up (caches, connections) to pass. */
    deadlineMs: 120_000,
    intervalMs: 1_000,
    consecutivePasses: 3,
    /** An assertion failing the same way this many times in a row is final. */
    failureLimit: 3,
} as const;

/**
 * The live check: one pass of the same checks on the live route right after the switch. Its
 * deadline is at most this (or the stack's smokeDeadline when shorter): the revision has already
 * passed on the preview route, so a live route that does not answer soon is a routing fault, and
 * every second spent waiting is a second users may see it. The request timeout is the stack's.
 */
export const LIVE_CHECK_DEFAULTS = {
    deadlineMs: 15_000,
    intervalMs: 250,
    consecutivePasses: 1,
} as const;

/** The default failure limit: an assertion failing the same way this many times in a row is final. */
export const DEFAULT_FAILURE_LIMIT = SMOKE_DEFAULTS.failureLimit;

export type TimingSetting = Exclude<keyof typeof SMOKE_LIMITS, "failureLimit">;

export interface SmokeTiming {
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly consecutivePasses: number;
}

/** True when `value` is an integer within the setting's bounds. */
export function withinLimits(setting: keyof typeof SMOKE_LIMITS, value: number): boolean {
    const { min, max } = SMOKE_LIMITS[setting];
    return Number.isInteger(value) && value >= min && value <= max;
}

/** The pause between passes for a given failure interval: never longer than the interval itself. */
export function passIntervalMs(intervalMs: number): number {
    return Math.min(PASS_INTERVAL_MS, intervalMs);
}

/**
 * The shortest deadline that leaves a healthy app room to pass: longer than its consecutive
 * passes take, a pass interval apart. A request timeout longer than what is left of the deadline
 * is cut to it, so the timeout sets no minimum.
 */
export function minimumDeadlineMs(t: { readonly consecutivePasses: number; readonly passIntervalMs: number }): number {
    return (t.consecutivePasses - 1) * t.passIntervalMs + 1;
}

/** One change to a single setting; `deadlineConflictFixes` proposes only changes that resolve the conflict. */
export interface TimingFix {
    readonly setting: TimingSetting;
    readonly value: number;
}

/**
 * The single-setting changes that make `t` meet `minimumDeadlineMs` (passes `passIntervalMs` apart), each within SMOKE_LIMITS,
 * the most direct first: raise the deadline, else lower the passes.
 * Raised values are rounded up to whole seconds and lowered ones down, so the fix reads well and
 * still resolves the conflict. Empty when `t` has no conflict.
 */
export function deadlineConflictFixes(t: SmokeTiming): TimingFix[] {
    const pause = passIntervalMs(t.intervalMs);
    const needed = minimumDeadlineMs({ ...t, passIntervalMs: pause });
    if (t.deadlineMs >= needed) return [];
    const fixes: TimingFix[] = [];
    const deadline = Math.ceil(needed / 1000) * 1000;
    if (withinLimits("deadlineMs", deadline)) fixes.push({ setting: "deadlineMs", value: deadline });
    const passes = Math.floor((t.deadlineMs - 1) / pause) + 1;
    if (withinLimits("consecutivePasses", passes)) fixes.push({ setting: "consecutivePasses", value: passes });
    return fixes;
}

/** Milliseconds as the shortest duration text the config and the CLI accept: `2m`, `90s`, `1500ms`. */
export function formatDuration(ms: number): string {
    if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
    if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
    return `${ms}ms`;
}
