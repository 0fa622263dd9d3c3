// The live switch's pure decisions (release/revisions.ts): which digest a revision's pods ran,
// where live traffic goes and what stays warm, which revisions go, and the verified history.
import { describe, expect, it } from "vitest";
import {
    digestOfImageId,
    type HistoryEntry,
    nextHistory,
    planSwitch,
    type PodView,
    ranDigest,
    revisionsToRemove,
} from "../../release/revisions";
import { REVISION_CHARS } from "../../kube/labels";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const pod = (name: string, imageID: string, ready = true): PodView => ({ name, ready, imageID });

// Revision ids as the program renders them: REVISION_CHARS hex characters.
const [A, B, C, Z] = ["a", "b", "c", "f"].map((h) => h.repeat(REVISION_CHARS)) as [string, string, string, string];

describe("digestOfImageId", () => {
    it.each([
        [`ghcr.io/env-progression/web@${D1}`, D1],
        [`docker-pullable://ghcr.io/env-progression/web@${D1}`, D1],
        [`registry.example.com:5000/web@${D2}\n`, D2],
    ])("reads the manifest digest from %j", (imageID, digest) => {
        expect(digestOfImageId(imageID)).toBe(digest);
    });

    it.each([
        ["", "nothing reported"],
        ["ghcr.io/env-progression/web:1.4.2", "a tag only"],
        [D1, "a bare image id (the config's digest, not the manifest's)"],
        [`ghcr.io/env-progression/web@sha256:${"1".repeat(63)}`, "a digest one character short"],
        [`ghcr.io/env-progression/web@sha256:${"A".repeat(64)}`, "upper-case hex"],
        [`ghcr.io/env-progression/web@${D1}:extra`, "text after the digest"],
    ])("gives null for %j (%s)", (imageID) => {
        expect(digestOfImageId(imageID)).toBeNull();
    });
});

describe("ranDigest", () => {
    it("is the digest every ready pod ran", () => {
        expect(ranDigest([pod("web-1", `web@${D1}`), pod("web-2", `docker-pullable://web@${D1}`)])).toEqual({ digest: D1 });
    });

    it("judges ready pods only: one still starting on other bytes does not count", () => {
        expect(ranDigest([pod("web-1", `web@${D1}`), pod("web-2", `web@${D2}`, false), pod("web-3", "", false)])).toEqual({ digest: D1 });
    });

    it("is null when the pods report no digest (a reference without one, simulated pods)", () => {
        expect(ranDigest([pod("web-1", ""), pod("web-2", "web:1.4.2")])).toEqual({ digest: null });
    });

    it("is a problem when ready pods ran different images, naming each digest with its pods", () => {
        const out = ranDigest([pod("web-1", `web@${D1}`), pod("web-2", `web@${D2}`), pod("web-3", `web@${D1}`)]);
        expect(out.digest).toBeUndefined();
        expect(out.problem).toBe(
            `its ready pods do not report one digest: ${D1} (web-1, web-3); ${D2} (web-2). Either the tag moved during the rollout or the runtime reported no digest for some; pin the image by digest`,
        );
    });

    it("is a problem when some ready pods report a digest and others none", () => {
        expect(ranDigest([pod("web-1", `web@${D1}`), pod("web-2", "")]).problem).toMatch(/^its ready pods do not report one digest: /);
    });

    it("is a problem when no pod is ready, however many there are", () => {
        expect(ranDigest([])).toEqual({ problem: "it has no ready pod" });
        expect(ranDigest([pod("web-1", `web@${D1}`, false)])).toEqual({ problem: "it has no ready pod" });
    });
});

describe("planSwitch", () => {
    it("first deploy: switches to the candidate, with nothing to roll back to", () => {
        expect(planSwitch({ live: null, candidate: A, previous: null })).toEqual({ target: A, switches: true, previous: null, keep: [A] });
    });

    it("a new candidate: switches, and the revision that was live becomes the warm rollback target", () => {
        expect(planSwitch({ live: A, recorded: A, candidate: B, previous: Z })).toEqual({ target: B, switches: true, previous: A, keep: [B, A] });
    });

    it("replicas only (the same revision): no switch, and the rollback target stays", () => {
        expect(planSwitch({ live: A, recorded: A, candidate: A, previous: Z })).toEqual({ target: A, switches: false, previous: Z, keep: [A, Z] });
        expect(planSwitch({ live: A, candidate: A, previous: null })).toEqual({ target: A, switches: false, previous: null, keep: [A] });
    });

    it("rollback (rollbackTo): switches to the pinned revision, keeping the one it leaves warm and the program's candidate", () => {
        expect(planSwitch({ live: B, recorded: B, candidate: B, pin: A, previous: A })).toEqual({ target: A, switches: true, previous: B, keep: [A, B] });
        expect(planSwitch({ live: B, recorded: B, candidate: C, pin: A, previous: A })).toEqual({ target: A, switches: true, previous: B, keep: [A, B, C] });
    });

    it("rollback whose traffic already moved (the rollback command's fast path): no switch, the revision the last switch made live becomes the target to go back to", () => {
        expect(planSwitch({ live: A, recorded: B, candidate: B, pin: A, previous: A })).toEqual({ target: A, switches: false, previous: B, keep: [A, B] });
    });

    it("staying pinned: no switch, and the rollback target stays", () => {
        expect(planSwitch({ live: A, recorded: A, candidate: B, pin: A, previous: B })).toEqual({ target: A, switches: false, previous: B, keep: [A, B] });
    });

    it("never keeps the target as its own rollback target", () => {
        expect(planSwitch({ live: A, recorded: A, candidate: A, previous: A })).toEqual({ target: A, switches: false, previous: null, keep: [A] });
    });

    it("the pin lifted: switches to the candidate, the pinned revision becomes the rollback target", () => {
        expect(planSwitch({ live: A, recorded: A, candidate: B, previous: B })).toEqual({ target: B, switches: true, previous: A, keep: [B, A] });
    });
});

describe("nextHistory", () => {
    const entry = (revision: string, switchedAt: string): HistoryEntry => ({ revision, ranDigest: D1, switchedAt, outcome: { checks: ["healthz"] } });
    const history = [entry(B, "2026-01-02T00:00:00Z"), entry(A, "2026-01-01T00:00:00Z")];

    it("puts the revision that went live first", () => {
        expect(nextHistory(history, entry(C, "2026-01-03T00:00:00Z"), 10).map((h) => h.revision)).toEqual([C, B, A]);
    });

    it("replaces an earlier entry of the same revision rather than listing it twice", () => {
        const out = nextHistory(history, entry(A, "2026-01-03T00:00:00Z"), 10);
        expect(out.map((h) => [h.revision, h.switchedAt])).toEqual([
            [A, "2026-01-03T00:00:00Z"],
            [B, "2026-01-02T00:00:00Z"],
        ]);
    });

    it("keeps at most `limit` entries, dropping the oldest, and always the new one", () => {
        expect(nextHistory(history, entry(C, "t"), 2).map((h) => h.revision)).toEqual([C, B]);
        expect(nextHistory(history, entry(C, "t"), 0).map((h) => h.revision)).toEqual([C]);
    });

    it("leaves the history it was given as it was", () => {
        const before = structuredClone(history);
        nextHistory(history, entry(C, "t"), 1);
        expect(history).toEqual(before);
    });
});

describe("revisionsToRemove", () => {
    it("lists each revision found that is not kept, once, in order", () => {
        // A revision has several objects (Deployment, ConfigMap, Secret), so it is found several times.
        expect(revisionsToRemove([Z, A, C, Z, B, C], [A, B])).toEqual([C, Z]);
    });

    it("removes nothing that is kept, and nothing when nothing else was found", () => {
        expect(revisionsToRemove([A, B], [A, B, C])).toEqual([]);
        expect(revisionsToRemove([], [A])).toEqual([]);
    });
});
