// Pure decisions of the live switch: which digest a revision's pods ran, what the switch does,
// which revisions stay, and the environment's verified history. No I/O here; release/switch.ts
// reads and writes the cluster.

/** The parts of a pod the switch reads. */
export interface PodView {
    readonly name: string;
    readonly ready: boolean;
    /** The app container's status imageID, e.g. `registry/web@sha256:<hex>`; "" when not reported. */
    readonly imageID: string;
}

const DIGEST = /@(sha256:[0-9a-f]{64})$/;

/** The manifest digest in a container's imageID (`name@sha256:<hex>`), or null when it names none. */
export function digestOfImageId(imageID: string): string | null {
    return DIGEST.exec(imageID.trim())?.[1] ?? null;
}

export type RanDigest = { readonly digest: string | null; readonly problem?: undefined } | { readonly digest?: undefined; readonly problem: string };

/**
 * The digest a revision's ready pods ran. All of them must agree: two digests under one tag mean
 * the tag moved while the revision rolled out, and neither can be called verified. Pods that
 * report no digest (simulated pods, for a reference without one) give null.
 */
export function ranDigest(pods: readonly PodView[]): RanDigest {
    const ready = pods.filter((p) => p.ready);
    if (ready.length === 0) return { problem: "it has no ready pod" };
    const digests = new Map<string, string[]>();
    for (const p of ready) {
        const d = digestOfImageId(p.imageID) ?? "none";
        digests.set(d, [...(digests.get(d) ?? []), p.name]);
    }
    if (digests.size > 1) {
        const list = [...digests].map(([d, names]) => `${d} (${names.join(", ")})`).join("; ");
        return {
            problem: `its ready pods do not report one digest: ${list}. Either the tag moved during the rollout or the runtime reported no digest for some; pin the image by digest`,
        };
    }
    const [only] = digests.keys();
    return { digest: only === "none" ? null : only! };
}

/** One verified revision in the environment's history, newest first in the state. */
export interface HistoryEntry {
    readonly revision: string;
    /** The digest its pods ran when it went live (null where none was reported). */
    readonly ranDigest: string | null;
    /** When the switch made it live. */
    readonly switchedAt: string;
    /** What its checks verified (the smoke run's outcome), the body of the verified record. */
    readonly outcome: Readonly<Record<string, unknown>>;
}

/** The history with `entry` first; an earlier entry of the same revision is replaced; at most `limit`. */
export function nextHistory(history: readonly HistoryEntry[], entry: HistoryEntry, limit: number): HistoryEntry[] {
    return [entry, ...history.filter((h) => h.revision !== entry.revision)].slice(0, Math.max(1, limit));
}

export interface SwitchPlan {
    /** The revision live traffic goes to. */
    readonly target: string;
    /** Whether the live Service's selector changes. */
    readonly switches: boolean;
    /** The revision kept warm as the rollback target, or null. */
    readonly previous: string | null;
    /** Revisions kept running: target, previous, and the program's candidate. */
    readonly keep: readonly string[];
}

/**
 * What the switch does. `live` is the revision the live Service selects now (null before the
 * first switch); `recorded` the one the last switch made live; `candidate` the revision the
 * program rendered; `pin` a revision the stack is held on (rollbackTo); `previous` the rollback
 * target the last switch recorded.
 */
export function planSwitch(o: {
    readonly live: string | null;
    readonly recorded?: string | null;
    readonly candidate: string;
    readonly pin?: string | undefined;
    readonly previous: string | null;
}): SwitchPlan {
    const target = o.pin ?? o.candidate;
    const switches = o.live !== target;
    const recorded = o.recorded ?? null;
    // The revision that stops being live becomes the rollback target: the one the Service selected,
    // or, when live traffic already moved to the target outside the program (a rollback's fast
    // path), the one the last switch had made live.
    const previous = switches ? o.live : recorded !== null && recorded !== target ? recorded : o.previous === target ? null : o.previous;
    const keep = [...new Set([target, ...(previous ? [previous] : []), o.candidate])];
    return { target, switches, previous, keep };
}

/** Revisions found in the cluster that no longer serve a purpose. */
export function revisionsToRemove(found: readonly string[], keep: readonly string[]): string[] {
    return [...new Set(found)].filter((r) => !keep.includes(r)).sort();
}
