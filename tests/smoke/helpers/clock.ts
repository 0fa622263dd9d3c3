import type { Clock } from "../../../smoke";

/**
 * A clock whose time moves only when the engine pauses: `sleep(ms)` wakes on the next turn of the
 * event loop, and the time moves on to `ms` past the moment the pause began (never back, when a
 * concurrent check has already moved it further). Attempts take no time on it (their budgets
 * still run on real timers). The engine checks that a pause ends before the deadline at the
 * moment it begins, so on this clock a run's elapsedMs never passes its deadline, and no verdict
 * depends on how busy the machine is.
 */
export function pauseClock(): Clock {
    let now = 0;
    return {
        now: () => now,
        sleep(ms: number, signal: AbortSignal): Promise<void> {
            const wake = now + ms;
            return new Promise<void>((resolve) => {
                if (signal.aborted) return resolve();
                setImmediate(() => {
                    if (!signal.aborted) now = Math.max(now, wake);
                    resolve();
                });
            });
        },
    };
}
