// Pre-traffic verification end to end, on real pods: the real engine, the kubernetes provider and
// the dynamic providers against the local control plane and its real node. A load loop on the
// live route (through the in-cluster ingress proxy, as users come in) runs through each update:
//   - a candidate that fails its checks never answers a live request, and the update fails;
//   - a passing candidate takes over with no failed live request;
//   - `progression rollback` brings the previous verified revision back, and its time is measured.
// Each revision answers /api/version with its own version (APP_VERSION), so the loop knows which
// revision served each request. Its own stack and namespace on the shared real-node cluster.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, ingressUrl, kubectlJson, localSecrets, prepareStack, previewRoute, realNodeOverrides, REPO, useToolchain, type Workspace, workspace } from "../../tests/harness/local";
import { realCluster } from "./realCluster";

const STACK = "rel-dev";
const NAMESPACE = "rel-dev";
const LIVE = ingressUrl(NAMESPACE);

let tmp: string;
let cluster: Cluster;
let ws: Workspace;
let stack: Stack;
let secrets: ReturnType<typeof localSecrets>;

/** Prepares the stack for one revision: its version, and a failure mode if any. */
async function configure(version: string, fail?: string): Promise<Stack> {
    return prepareStack(ws, "dev", {
        cluster,
        stackName: STACK,
        smokeBaseUrl: LIVE,
        secrets: secrets.dev,
        overrides: { ...realNodeOverrides(cluster), namespace: NAMESPACE, replicas: 2, smokeDeadline: "8s", smokeInterval: "200ms", rolloutTimeout: "3m" },
        extraEnv: { APP_VERSION: version, ...(fail ? { FAIL: fail } : {}) },
    });
}

/**
 * The ingress proxy resolves each Service's name anew per request; on a loaded machine the local
 * DNS may not answer in time. Such a 502 says nothing of which revision serves: it is counted and
 * shown, and may not exceed one request in a hundred.
 */
const dnsHiccup = (e: string) => /: 502 upstream \S+: (EAI_AGAIN|ENOTFOUND)$/.test(e);
const failures = (t: Tally) => {
    const dns = t.errors.filter(dnsHiccup);
    expect(dns.length, `${dns.length} DNS lookups of ${t.total} failed: ${dns.join("; ")}`).toBeLessThanOrEqual(Math.floor(t.total / 100));
    return t.errors.filter((e) => !dnsHiccup(e));
};

interface Tally {
    /** Answers by the version that served them. */
    readonly versions: Record<string, number>;
    /** Answers of db-status by connected:true/false. */
    readonly connected: Record<string, number>;
    /** Refused connections, timeouts, 5xx, unreadable bodies: each one a user who met a failure. */
    readonly errors: string[];
    total: number;
    slowestMs: number;
}

/**
 * Sends requests to the live route one after another until stopped. Each may take 15 s: longer
 * than the ingress proxy's 10 s upstream timeout, so a request routed to a pod that is gone comes
 * back as the proxy's 5xx (counted as an error), while one merely slow on a loaded machine counts
 * as the answer it is.
 */
function loadLoop(): { stop(): Promise<Tally> } {
    const tally: Tally = { versions: {}, connected: {}, errors: [], total: 0, slowestMs: 0 };
    let running = true;
    const loop = (async () => {
        while (running) {
            for (const route of ["/api/version", "/api/db-status"]) {
                tally.total += 1;
                try {
                    const started = Date.now();
                    const res = await fetch(`${LIVE}${route}`, { signal: AbortSignal.timeout(15_000) });
                    tally.slowestMs = Math.max(tally.slowestMs, Date.now() - started);
                    const body = (await res.json()) as { version?: string; connected?: boolean; error?: string };
                    if (res.status >= 500) tally.errors.push(`${route}: ${res.status} ${body.error ?? ""}`.trim());
                    else if (route === "/api/version") tally.versions[String(body.version)] = (tally.versions[String(body.version)] ?? 0) + 1;
                    else tally.connected[String(body.connected)] = (tally.connected[String(body.connected)] ?? 0) + 1;
                } catch (err) {
                    tally.errors.push(`${route}: ${(err as Error).message}`);
                }
            }
        }
    })();
    return {
        async stop() {
            running = false;
            await loop;
            return tally;
        },
    };
}

const release = async () => (await stack.outputs())["release"]?.value as { live: string; previous: string | null; candidate: string; history: { revision: string }[] };

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-release-"));
    const toolEnv = useToolchain();
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    cluster = realCluster();
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
    secrets = localSecrets(path.join(tmp, "secrets.json"));
    stack = await configure("1");
    await stack.up({ color: "never" });
});

afterAll(async () => {
    try {
        await stack?.destroy({ color: "never" }).catch(() => undefined);
        await stack?.workspace.removeStack(STACK, { force: true }).catch(() => undefined);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});

describe("pre-traffic verification on real pods", () => {
    it("keeps every live request on the verified revision while a failing candidate is checked, and fails the update", async () => {
        const before = await release();
        const load = loadLoop();
        stack = await configure("2", "db");
        const failed = await stack.up({ color: "never" }).then(
            () => undefined,
            (err: Error) => err.message,
        );
        const tally = await load.stop();
        expect(failed, "the update fails at the candidate's checks").toContain("smoke checks failed");
        expect(failed).toContain("live traffic did not move");
        // The report shows the candidate's pods and their logs.
        expect(failed).toMatch(/the candidate's pods \(namespace rel-dev\):\n\s*pod web-[0-9a-f]{10}-/);
        expect(failures(tally), `${tally.total} live requests`).toEqual([]);
        expect(tally.versions, "only the verified revision answered").toEqual({ "1": expect.any(Number) });
        expect(tally.connected).toEqual({ true: expect.any(Number) });
        // Live still on the verified revision; the candidate runs for inspection behind the preview route.
        expect(await release()).toMatchObject({ live: before.live });
        const preview = (await (await fetch(`${previewRoute(LIVE)}/api/db-status`)).json()) as { connected: boolean };
        expect(preview.connected).toBe(false);
        process.stdout.write(`failing update: ${tally.total} live requests, ${tally.errors.length} failed (${tally.errors.join("; ") || "none"}), all answers from the verified revision (slowest ${tally.slowestMs} ms)\n`);
    });

    it("fails the same way when run again with nothing fixed", async () => {
        const again = await stack.up({ color: "never" }).then(
            () => undefined,
            (err: Error) => err.message,
        );
        expect(again).toContain("smoke checks failed");
    });

    it("switches a passing candidate in with no failed live request, and keeps the previous revision warm", async () => {
        const before = await release();
        const load = loadLoop();
        stack = await configure("3");
        await stack.up({ color: "never" });
        const tally = await load.stop();
        expect(failures(tally), `${tally.total} live requests`).toEqual([]);
        expect(Object.keys(tally.versions).sort()).toEqual(expect.arrayContaining(["3"]));
        expect(Object.keys(tally.versions).every((v) => v === "1" || v === "3")).toBe(true);
        const after = await release();
        expect(after.live).not.toBe(before.live);
        expect(after.previous).toBe(before.live);
        const switchMs = ((await stack.outputs())["release"]?.value as { switchMs: number }).switchMs;
        process.stdout.write(`passing update: ${tally.total} live requests, ${tally.errors.length} failed (${tally.errors.join("; ") || "none"}; slowest ${tally.slowestMs} ms); the switch took ${switchMs} ms\n`);
        // The rollback target keeps one warm pod; the failed candidate's objects are gone.
        const deployments = kubectlJson<{ items: { metadata: { name: string }; spec: { replicas: number } }[] }>(cluster, ["get", "deployments", "-n", NAMESPACE]).items;
        expect(deployments.map((d) => [d.metadata.name, d.spec.replicas]).sort()).toEqual(
            [
                [`web-${after.live}`, 2],
                [`web-${before.live}`, 1],
            ].sort(),
        );
    });

    it("rolls back to the previous verified revision in seconds with progression rollback, and records it", async () => {
        const before = await release();
        const started = Date.now();
        const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
            const child = spawn(path.join(REPO, "bin", "progression"), ["rollback", "-s", STACK, "-C", ws.projectDir], { env: { ...process.env, ...ws.envVars } });
            let text = "";
            let answeredAt: number | undefined;
            child.stdout.on("data", (d: Buffer) => {
                text += d.toString();
                if (answeredAt === undefined && /live traffic moved/.test(text)) answeredAt = Date.now();
            });
            child.stderr.on("data", (d: Buffer) => (text += d.toString()));
            child.on("close", (code) => resolve({ code, text: `${text}\nswitched after ${answeredAt === undefined ? "?" : answeredAt - started} ms` }));
        });
        expect(out.code, out.text).toBe(0);
        const seconds = Number(/live traffic moved from \S+ to \S+ in ([\d.]+)s/.exec(out.text)?.[1]);
        expect(seconds, out.text).toBeLessThan(10);
        const version = (await (await fetch(`${LIVE}/api/version`)).json()) as { version: string };
        expect(version.version).toBe("1");
        const after = await release();
        expect(after.live).toBe(before.previous);
        expect((await stack.getConfig("env-progression:rollbackTo")).value).toBe(before.previous);
        process.stdout.write(`rollback: live traffic back on ${after.live} in ${seconds}s\n`);
    });
});
