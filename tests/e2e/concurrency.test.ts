// Concurrency under the real engine (the toolchain's Pulumi CLI, file backend) on a control plane with
// simulated nodes (kwok):
//   - a second `up` of a stack while one runs is refused by the backend's lock, with the
//     backend's message naming the lock's holder; the first is not disturbed;
//   - an `up` killed (SIGKILL, the whole process group) while its migration Job runs: the next
//     `up` adopts that Job and waits for it; no second migration Job is ever created.
// kwok runs no container: with every node cordoned the Job's pod stays Pending (the Job runs);
// uncordoned, kwok runs the pod to success and the Job controller completes the Job.
// Own cluster and state, torn down in afterAll.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
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
    kubectlJson,
    localSecrets,
    prepareStack,
    REPO,
    type RunningApp,
    startApp,
    useToolchain,
    type Workspace,
    workspace,
} from "../../tests/harness/local";

const CLUSTER = `e2e-concurrency-${process.pid}`;
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

/**
 * The engine starts each plugin in a process group of its own, so killing the `up`'s group leaves
 * them running. They all carry this file's PULUMI_HOME in their environment: kill those.
 */
function killPlugins(home: string): void {
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let environ: string;
        try {
            environ = fs.readFileSync(`/proc/${pid}/environ`, "latin1");
        } catch {
            continue;
        }
        if (environ.split("\0").includes(`PULUMI_HOME=${home}`)) {
            try {
                process.kill(Number(pid), "SIGKILL");
            } catch {
                /* gone already */
            }
        }
    }
}

afterAll(async () => {
    if (tmp) killPlugins(path.join(tmp, "pulumi-home"));
    for (const app of apps) await app.stop();
    if (kubeconfig) clusterDown(CLUSTER, kubeconfig);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let app: RunningApp;
async function theApp(): Promise<RunningApp> {
    app ??= await startApp({ port: await freePort(), logFile: path.join(tmp, "app.log") });
    if (!apps.includes(app)) apps.push(app);
    return app;
}

describe("two `pulumi up` on one stack", () => {
    it("the second is refused by the backend's lock, naming its holder; the first completes", async () => {
        const app = await theApp();
        // The smoke command holds the first `up` long enough for the second to start (once: the
        // live check after the switch runs it again, within a shorter deadline).
        const marker = path.join(tmp, "smoke-slept");
        const stack: Stack = await prepareStack(ws, "dev", {
            cluster,
            smokeBaseUrl: app.url,
            secrets: localSecrets(path.join(tmp, "secrets.json")).dev,
            overrides: { smokeCommand: `test -e ${marker} || { touch ${marker}; sleep 20; }`, smokeDeadline: "60s" },
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
        const refusedAfterMs = Date.now() - started;
        expect(second).toBeInstanceOf(Error);
        const message = second!.message;
        expect(message).toContain("the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.");
        expect(message).toMatch(/locks\/organization\/env-progression\/dev\/[0-9a-f-]+\.json\S*: created by \S+ \(pid \d+\) at /);
        // Refused at once, not after waiting for the first.
        expect(refusedAfterMs).toBeLessThan(30_000);
        const done = await first;
        expect(done.ok ? undefined : String((done.e as Error).message)).toBeUndefined();
        expect(locks("dev")).toEqual([]);
        process.stdout.write(`concurrency e2e: the second up was refused after ${(refusedAfterMs / 1000).toFixed(1)} s with the lock's message\n`);
    });
});

describe("an `up` killed while its migration Job runs", () => {
    const ns = "web-dev-killed";
    const kubectl = (args: string[]) => execFileSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, ...args], { encoding: "utf8" });
    const migrationJobs = () =>
        kubectlJson<{ items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] }>(cluster, [
            "get",
            "jobs",
            "-n",
            ns,
            "-l",
            "app.kubernetes.io/component=migration",
        ]).items;
    const nodes = () => kubectlJson<{ items: { metadata: { name: string } }[] }>(cluster, ["get", "nodes"]).items.map((n) => n.metadata.name);
    const nsExists = () => {
        try {
            kubectl(["get", "namespace", ns]);
            return true;
        } catch {
            return false;
        }
    };

    it("the next up adopts the Job the killed one started and waits for it: one migration Job in all", async () => {
        const app = await theApp();
        const stack = await prepareStack(ws, "dev", {
            cluster,
            stackName: "dev-killed",
            smokeBaseUrl: app.url,
            secrets: localSecrets(path.join(tmp, "secrets.json")).dev,
            overrides: {
                namespace: ns,
                migrationsDir: path.join(REPO, "migrations"),
                migrationImage: "registry.example.com/web-migrate:1.4.2",
                migrationJobCommand: ["/migrations/migrate.sh"],
                migrationDeadline: "5m",
            },
        });
        for (const node of nodes()) kubectl(["cordon", node]);
        let up: ChildProcess | undefined;
        try {
            // `pulumi up` in a process group of its own, so all of it can be killed at once.
            let upOutput = "";
            up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--color", "never", "--stack", "dev-killed"], {
                cwd: ws.projectDir,
                env: { ...process.env, ...ws.envVars },
                detached: true,
                stdio: ["ignore", "pipe", "pipe"],
            });
            up.stdout!.on("data", (d: Buffer) => (upOutput += d.toString()));
            up.stderr!.on("data", (d: Buffer) => (upOutput += d.toString()));
            const exited = new Promise((r) => up!.on("exit", r));
            const deadline = Date.now() + 240_000;
            while (!nsExists() || migrationJobs().length === 0) {
                if (Date.now() > deadline || up.exitCode !== null) throw new Error(`no migration Job while up ran:\n${upOutput}`);
                await new Promise((r) => setTimeout(r, 300));
            }
            const [first] = migrationJobs();
            expect(first!.metadata.name).toMatch(/^web-migrate-[0-9a-f]{6}-1$/);
            process.kill(-up.pid!, "SIGKILL");
            await exited;

            // The killed up's lock is left behind: the next up says so, and `pulumi cancel` removes it.
            const locked = await stack.up({ color: "never" }).then(
                () => undefined,
                (e: Error) => e.message,
            );
            expect(locked).toContain("the stack is currently locked by 1 lock(s)");
            await stack.cancel();
            // The run the killed up was creating is pending in state: refresh clears it, as the engine asks before the next up.
            await stack.refresh({ color: "never", clearPendingCreates: true });

            let nextOutput = "";
            const next = stack.up({ color: "never", onOutput: (o) => (nextOutput += o) }).then(
                () => undefined,
                (e: Error) => e.message,
            );
            // While the first Job still runs, the next up creates no Job of its own.
            const watchUntil = Date.now() + 20_000;
            while (Date.now() < watchUntil) {
                expect(migrationJobs().map((j) => j.metadata.name)).toEqual([first!.metadata.name]);
                await new Promise((r) => setTimeout(r, 500));
            }
            for (const node of nodes()) kubectl(["uncordon", node]);
            const failed = await next;
            expect(failed, nextOutput).toBeUndefined();
            const jobs = migrationJobs();
            expect(jobs.map((j) => j.metadata.name)).toEqual([first!.metadata.name]);
            expect(jobs[0]!.status?.conditions).toContainEqual(expect.objectContaining({ type: "Complete", status: "True" }));
            const state = await stack.exportStack();
            const run = (state.deployment.resources as { type: string; outputs?: Record<string, unknown> }[]).find(
                (r) => r.type === "pulumi-nodejs:dynamic/progression:MigrationRun",
            );
            expect(run?.outputs?.["jobName"]).toBe(first!.metadata.name);
        } finally {
            if (up?.pid !== undefined) {
                try {
                    process.kill(-up.pid, "SIGKILL");
                } catch {
                    // the group is gone already
                }
            }
            for (const node of nodes()) kubectl(["uncordon", node]);
        }
    });
});
