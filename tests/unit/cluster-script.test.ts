// cluster/cluster.sh's refusals, which need no cluster: a name that is not one, and the real node
// asked for by a user who is not root. Each ends with one line that holds the fix, and nothing is
// created or removed.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../harness/local";

const SCRIPT = path.join(REPO, "cluster", "cluster.sh");
let cache: string;

beforeAll(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-script-"));
    fs.chmodSync(cache, 0o777);
});
afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>, asNobody = false) {
    const cmd = asNobody ? "setpriv" : SCRIPT;
    const argv = asNobody ? ["--reuid=65534", "--regid=65534", "--clear-groups", SCRIPT, ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: 30_000, env: { PATH: process.env["PATH"] ?? "", HOME: cache, PROGRESSION_CACHE: cache, ...env } });
    return { status: r.status, lines: r.stderr.trim().split("\n") };
}

describe("cluster.sh refuses, in one line with the fix", () => {
    for (const bad of ["../../etc", "Env", "a b", "-x", "x".repeat(51)]) {
        it(`PROGRESSION_CLUSTER=${JSON.stringify(bad)}`, () => {
            const target = path.join(cache, "clusters", "keep");
            fs.mkdirSync(target, { recursive: true });
            const r = run(["down"], { PROGRESSION_CLUSTER: bad });
            expect(r.status).toBe(1);
            expect(r.lines).toHaveLength(1);
            expect(r.lines[0]).toMatch(/^cluster: PROGRESSION_CLUSTER='.*' is not a cluster name; allowed: .*; fix: export PROGRESSION_CLUSTER=env-progression$/);
            expect(fs.existsSync(target)).toBe(true);
        });
    }

    it("a relative PROGRESSION_CACHE", () => {
        const r = run(["down"], { PROGRESSION_CACHE: "relative/cache" });
        expect(r.status).toBe(1);
        expect(r.lines).toEqual([expect.stringMatching(/^cluster: PROGRESSION_CACHE='relative\/cache' is not an absolute path; fix: /)]);
    });

    it.skipIf(process.getuid?.() !== 0)("the real node asked for by a user who is not root", () => {
        const own = path.join(cache, "nobody");
        fs.mkdirSync(own);
        fs.chownSync(own, 65534, 65534);
        const r = run(["up", "--real"], { PROGRESSION_CLUSTER: "not-root", PROGRESSION_CACHE: own, HOME: own }, true);
        expect(r.status).toBe(1);
        expect(r.lines).toEqual(["cluster: the real node cannot run here: it needs root (it runs containerd, kubelet and iptables); run as root or use --simulated"]);
        expect(fs.existsSync(path.join(own, "clusters", "not-root"))).toBe(false);
    });
});
