// Concurrency under the real engine (Pulumi CLI 3.274.1, file backend) on a control plane with
// simulated nodes (kwok): a second `up` of a stack while one runs is refused by the backend's lock,
// with the backend's message naming the lock's holder; the first is not disturbed.
// Own cluster and state, torn down in afterAll.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    type Cluster,
    clusterDown,
    clusterUp,
    localSecrets,
    prepareStack,
    type RunningApp,
    startApp,
    useToolchain,
    type Workspace,
    workspace,
} from "../../tests/harness/local";

const CLUSTER = `progression-e2e-concurrency-${process.pid}`;
let tmp: string;
let kubeconfig: string | undefined;
let cluster: Cluster;
let ws: Workspace;
const apps: RunningApp[] = [];

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });
}

/** The lock files the file backend holds for `stack` now. */
function locks(stack: string): string[] {
    const root = path.join(ws.stateDir, ".pulumi", "locks");
    if (!fs.existsSync(root)) return [];
    return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.includes(`${path.sep}${stack}${path.sep}`) && f.endsWith(".json"));
}

beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-e2e-concurrency-"));
    const toolEnv = useToolchain();
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    kubeconfig = path.join(tmp, "kubeconfig");
    cluster = clusterUp(CLUSTER, kubeconfig);
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
});

afterAll(async () => {
    for (const app of apps) await app.stop();
    if (kubeconfig) clusterDown(CLUSTER, kubeconfig);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("two `pulumi up` on one stack", () => {
    it("the second is refused by the backend's lock, naming its holder; the first completes", async () => {
        const app = await startApp({ port: await freePort(), logFile: path.join(tmp, "app.log") });
        apps.push(app);
        // The smoke command holds the first `up` long enough for the second to start.
        const stack: Stack = await prepareStack(ws, "dev", {
            cluster,
            smokeBaseUrl: app.url,
            secrets: localSecrets(path.join(tmp, "secrets.json")).dev,
            overrides: { smokeCommand: "sleep 20", smokeDeadline: "60s" },
        });
        let firstOutput = "";
        const first = stack.up({ color: "never", onOutput: (s) => (firstOutput += s) }).then(
            (r) => ({ ok: true as const, r }),
            (e: unknown) => ({ ok: false as const, e }),
        );
        const deadline = Date.now() + 180_000;
        while (locks("dev").length === 0 || !firstOutput.includes("smoke")) {
            if (Date.now() > deadline) throw new Error(`the first up took no lock within 180 s:\n${firstOutput}`);
            await new Promise((r) => setTimeout(r, 200));
        }
        const started = Date.now();
        const second = await stack.up({ color: "never" }).then(
            () => undefined,
            (e: Error) => e,
        );
        expect(second).toBeInstanceOf(Error);
        const message = second!.message;
        expect(message).toContain("the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.");
        expect(message).toMatch(/locks\/organization\/env-progression\/dev\/[0-9a-f-]+\.json\S*: created by \S+ \(pid \d+\) at /);
        // Refused at once, not after waiting for the first.
        expect(Date.now() - started).toBeLessThan(30_000);
        const done = await first;
        expect(done.ok ? undefined : String((done.e as Error).message)).toBeUndefined();
        expect(locks("dev")).toEqual([]);
        process.stdout.write(`concurrency e2e: the second up was refused after ${((Date.now() - started) / 1000).toFixed(1)} s with the lock's message\n`);
    });
});
