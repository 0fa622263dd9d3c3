// The policy pack's version guard (delivery/pack.ts): a version is never published twice, the
// version moves whenever the content digest changes, and the committed record matches what the
// source builds, so the pack the Actions path runs from source is the published version.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPack } from "../../policy/build";
import {
    checkRecorded,
    contentDigest,
    digestOfDir,
    type Ledger,
    nextPatch,
    packVersion,
    PACK_INSTALL,
    publishDecision,
    publishedVersions,
    readLedger,
    recordVersion,
    withoutToken,
} from "../../delivery/pack";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;
const ledger: Ledger = { versions: { "0.1.0": A } };

describe("the version guard", () => {
    it("accepts a version with the digest it was recorded with", () => {
        expect(() => checkRecorded(ledger, "0.1.0", A)).not.toThrow();
    });

    it("refuses changed content under a recorded version, naming the next version", () => {
        expect(() => checkRecorded(ledger, "0.1.0", B)).toThrow(
            `the policy pack changed without a new version: 0.1.0 was recorded with ${A}, the source now builds ${B}; a published version is never replaced. Fix: toolchain/run tsx delivery/pack.ts version (moves to 0.1.1), and commit policy/package.json and policy/published.json`,
        );
    });

    it("refuses a version nothing records", () => {
        expect(() => checkRecorded(ledger, "0.2.0", A)).toThrow("policy pack version 0.2.0 is not in policy/published.json");
    });

    it("moves the version whenever the digest changes, and never reuses one", () => {
        expect(recordVersion(ledger, "0.1.0", A)).toEqual({ ledger, version: "0.1.0", changed: false });
        expect(recordVersion(ledger, "0.1.0", B)).toEqual({ ledger: { versions: { "0.1.0": A, "0.1.1": B } }, version: "0.1.1", changed: true });
        // 0.1.1 taken already (by an older record): the next free one.
        expect(recordVersion({ versions: { "0.1.0": A, "0.1.1": A } }, "0.1.0", B).version).toBe("0.1.2");
        // A first record keeps the version it names.
        expect(recordVersion({ versions: {} }, "0.3.0", B).version).toBe("0.3.0");
        expect(nextPatch("1.2.9")).toBe("1.2.10");
        expect(() => nextPatch("1.2")).toThrow('policy/package.json\'s version "1.2" is not MAJOR.MINOR.PATCH');
    });

    it("publishes a recorded version once, and never one the organization has", () => {
        expect(publishDecision(ledger, "0.1.0", A, [])).toEqual({ publish: true });
        expect(publishDecision(ledger, "0.1.0", A, ["0.0.9", "0.1.0"])).toEqual({
            publish: false,
            because: "version 0.1.0 is published already; a version is never published twice",
        });
        expect(() => publishDecision(ledger, "0.1.0", B, [])).toThrow("changed without a new version");
    });

    it("installs the pack's dependencies with no install script and no Pulumi token", () => {
        expect(PACK_INSTALL).toContain("--ignore-scripts");
        expect(withoutToken({ PULUMI_ACCESS_TOKEN: "pul-x", PATH: "/bin" })).toEqual({ PATH: "/bin" });
    });

    it("reads the organization's versions from `pulumi policy ls --json`", () => {
        const listing = [
            { name: "other", versions: ["9.9.9"] },
            { name: "env-progression", versions: ["0.1.0", "0.1.1"] },
        ];
        expect(publishedVersions(listing, "env-progression")).toEqual(["0.1.0", "0.1.1"]);
        expect(publishedVersions(listing, "missing")).toEqual([]);
        expect(publishedVersions(null, "env-progression")).toEqual([]);
    });

    it("digests the files a published pack runs, each with its name", () => {
        const files = { "PulumiPolicy.yaml": "a", "index.js": "b", "package.json": '{"name":"p","version":"0.1.0"}' };
        expect(contentDigest(files)).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(contentDigest({ ...files, "index.js": "b2" })).not.toBe(contentDigest(files));
        // Moving bytes from one file to the next changes it too.
        expect(contentDigest({ ...files, "PulumiPolicy.yaml": "ab", "index.js": "" })).not.toBe(contentDigest(files));
        expect(() => contentDigest({ "index.js": "b", "package.json": "{}" })).toThrow("the built pack has no PulumiPolicy.yaml");
    });

    it("names the content, not the version: a bump alone keeps the digest, a dependency change does not", () => {
        const files = { "PulumiPolicy.yaml": "a", "index.js": "b", "package.json": '{"name":"p","version":"0.1.0","dependencies":{"x":"1.0.0"}}' };
        expect(contentDigest({ ...files, "package.json": '{"name":"p","version":"0.1.1","dependencies":{"x":"1.0.0"}}' })).toBe(contentDigest(files));
        expect(contentDigest({ ...files, "package.json": '{"name":"p","version":"0.1.0","dependencies":{"x":"1.0.1"}}' })).not.toBe(contentDigest(files));
    });
});

describe("the committed record", () => {
    let tmp: string;
    let first: string;
    let second: string;
    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pack-guard-"));
        first = digestOfDir((await buildPack(path.join(tmp, "one"))).dir);
        second = digestOfDir((await buildPack(path.join(tmp, "elsewhere", "two"))).dir);
    }, 60_000);
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("is reproducible: the same source builds the same digest wherever it is built", () => {
        expect(second).toBe(first);
    });

    it("records policy/package.json's version with the digest the source builds (after a pack change: npm run policy:version)", () => {
        expect(() => checkRecorded(readLedger(), packVersion(), first)).not.toThrow();
    });
});
