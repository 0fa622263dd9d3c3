// The limits on smoke timing, in one place: the engine (resolveSmokeOptions, so the CLI and the
// SmokeTest provider) and the stack config's edge (config/groups/smoke.ts) both judge settings by
// these, so a setting the edge accepts is never refused later, after the app was rolled out.

/** Inclusive bounds of each timing setting. */
export const SMOKE_LIMITS = {
    timeoutMs: { min: 1, max: 3_600_000 },
    deadlineMs: { min: 1, max: 3_600_000 },
    intervalMs: { min: 1, max: 600_000 },
    consecutivePasses: { min: 1, max: 100 },
} as const;

export type TimingSetting = keyof typeof SMOKE_LIMITS;

export interface SmokeTiming {
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly consecutivePasses: number;
}

/** True when `value` is an integer within the setting's bounds. */
export function withinLimits(setting: TimingSetting, value: number): boolean {
    const { min, max } = SMOKE_LIMITS[setting];
    return Number.isInteger(value) && value >= min && value <= max;
}

/**
 * The shortest deadline that leaves a healthy app room to pass: its consecutive passes an
 * interval apart, plus one whole request timeout, so a single slow answer cannot use up the
 * deadline on its own.
 */
export function minimumDeadlineMs(t: Omit<SmokeTiming, "deadlineMs">): number {
    return t.consecutivePasses * t.intervalMs + t.timeoutMs;
}

/** One change to a single setting; `deadlineConflictFixes` proposes only changes that resolve the conflict. */
export interface TimingFix {
    readonly setting: TimingSetting;
    readonly value: number;
}

/**
 * The single-setting changes that make `t` meet `minimumDeadlineMs`, each within SMOKE_LIMITS,
 * the most direct first: raise the deadline, else shorten the timeout, the interval or the passes.
 * Raised values are rounded up to whole seconds and lowered ones down, so the fix reads well and
 * still resolves the conflict. Empty when `t` has no conflict.
 */
export function deadlineConflictFixes(t: SmokeTiming): TimingFix[] {
    const needed = minimumDeadlineMs(t);
    if (t.deadlineMs >= needed) return [];
    const fixes: TimingFix[] = [];
    const deadline = Math.ceil(needed / 1000) * 1000;
    if (withinLimits("deadlineMs", deadline)) fixes.push({ setting: "deadlineMs", value: deadline });
    const roundDown = (ms: number) => (ms >= 1000 ? Math.floor(ms / 1000) * 1000 : Math.floor(ms));
    const timeout = roundDown(t.deadlineMs - t.consecutivePasses * t.intervalMs);
    if (withinLimits("timeoutMs", timeout)) fixes.push({ setting: "timeoutMs", value: timeout });
    const interval = roundDown((t.deadlineMs - t.timeoutMs) / t.consecutivePasses);
    if (withinLimits("intervalMs", interval)) fixes.push({ setting: "intervalMs", value: interval });
    const passes = Math.floor((t.deadlineMs - t.timeoutMs) / t.intervalMs);
    if (withinLimits("consecutivePasses", passes)) fixes.push({ setting: "consecutivePasses", value: passes });
    return fixes;
}

/** Milliseconds as the shortest duration text the config and the CLI accept: `2m`, `90s`, `1500ms`. */
export function formatDuration(ms: number): string {
    if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
    if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
    return `${ms}ms`;
}
