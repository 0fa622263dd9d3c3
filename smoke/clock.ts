// The smoke engine's clock: where "now" and the pauses between attempts come from. A run uses the
// system's monotonic clock; a test injects one of its own (SmokeOptions.clock), so a verdict
// depends on the engine's arithmetic rather than on how busy the machine is. An attempt's own
// budget is not on this clock: it bounds real I/O, so it stays on real timers (smoke/transport.ts).
import { performance } from "node:perf_hooks";

export interface Clock {
    /** Milliseconds on a monotonic scale; only differences mean anything. */
    now(): number;
    /** Resolves after `ms` of this clock, or as soon as `signal` aborts. */
    sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
    });
}

export const systemClock: Clock = { now: () => performance.now(), sleep };
