// Faults on the real node: each of its processes killed with SIGKILL between two runs and in the
// middle of `cluster/cluster.sh up` (the first step of `npm run demo`). A run that is cut short
// ends with one line naming the fix and no stack trace; the next run recovers without a manual
// step. Uses the shared real-node cluster (tests/e2e/realCluster.ts).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheDir, type Cluster, clusterStatus, kubectlJson, REPO, useToolchain } from "../harness/local";
import { realCluster, realClusterKubeconfig, realClusterName } from "./realCluster";

const PARTS = ["etcd", "kube-apiserver", "containerd", "kubelet", "kube-router"] as const;
type Part = (typeof PARTS)[number];

let cluster: Cluster;
const pidFile = (part: Part) => path.join(cacheDir(), "clusters", realClusterName(), "pids", `${part}.pid`);

function livePid(part: Part): number | undefined {
    try {
        const pid = Number(fs.readFileSync(pidFile(part), "utf8").trim());
        process.kill(pid, 0);
        return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] === "Z" ? undefined : pid;
    } catch {
        return undefined;
    }
}

function kill(part: Part): number {
    const pid = livePid(part);
    if (pid === undefined) throw new Error(`${part} is not running`);
    process.kill(pid, "SIGKILL");
    return pid;
}

/** `cluster.sh up --real` as a child; `onStart` runs while it does. */
function up(onStart?: (child: ReturnType<typeof spawn>) => Promise<void>): Promise<{ status: number | null; stderr: string }> {
    const child = spawn(path.join(REPO, "cluster", "cluster.sh"), ["up", "--real"], {
        env: { ...process.env, PROGRESSION_CLUSTER: realClusterName(), PROGRESSION_KUBECONFIG: realClusterKubeconfig(), PROGRESSION_NODES: "auto" },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<{ status: number | null; stderr: string }>((resolve) => child.on("close", (status) => resolve({ status, stderr })));
    return (onStart ? onStart(child) : Promise.resolve()).then(() => done);
}

/** The node is whole: every part runs, the node is Ready, and the add-ons' pods are ready. */
function expectHealthy(): void {
    const status = clusterStatus(cluster.name, cluster.kubeconfig);
    expect(status.ok, status.text).toBe(true);
    const node = kubectlJson(cluster, ["get", "nodes", "-l", "progression.dev/node=real"]).items[0];
    expect(node.status.conditions.find((c: { type: string }) => c.type === "Ready").status).toBe("True");
    for (const [ns, name] of [
        ["kube-system", "coredns"],
        ["ingress-nginx", "controller"],
    ]) {
        expect(kubectlJson(cluster, ["-n", ns!, "get", "deployment", name!]).status.readyReplicas, `${ns}/${name}`).toBe(1);
    }
}

/** A failed run's output: its last line is cluster.sh's, with the fix; nothing looks like a stack trace. */
function expectOneLineFix(stderr: string): void {
    const lines = stderr.trim().split("\n");
    expect(lines.at(-1), stderr).toMatch(/^cluster: .*; fix: /);
    expect(stderr).not.toMatch(/^\s+at /m);
}

beforeAll(() => {
    useToolchain();
    cluster = realCluster();
});

describe("a node process killed between runs", () => {
    for (const part of PARTS) {
        it(`${part}: the next up starts it again and the node is whole`, async () => {
            kill(part);
            const run = await up();
            expect(run.status, run.stderr).toBe(0);
            expect(livePid(part)).toBeDefined();
            expectHealthy();
        });
    }

    it("all of them at once", async () => {
        for (const part of PARTS) kill(part);
        const run = await up();
        expect(run.status, run.stderr).toBe(0);
        expectHealthy();
    });
});

describe("a node process killed in the middle of up", () => {
    for (const part of PARTS) {
        it(`${part}: that up ends with one line and the fix, or finishes; the next one recovers`, async () => {
            const old = kill(part);
            const killed: number[] = [];
            // up starts it again; it is killed again as soon as it runs, while up waits for it.
            const cut = await up(async (child) => {
                const deadline = Date.now() + 60_000;
                while (Date.now() < deadline && child.exitCode === null) {
                    const pid = livePid(part);
                    if (pid !== undefined && pid !== old) {
                        process.kill(pid, "SIGKILL");
                        killed.push(pid);
                        return;
                    }
                    await new Promise((r) => setTimeout(r, 20));
                }
            });
            expect(killed.length, `up never started ${part} again:\n${cut.stderr}`).toBe(1);
            if (cut.status !== 0) expectOneLineFix(cut.stderr);
            process.stdout.write(`${part} killed mid-up: exit ${String(cut.status)}, last line: ${cut.stderr.trim().split("\n").at(-1) ?? ""}\n`);
            const next = await up();
            expect(next.status, next.stderr).toBe(0);
            expectHealthy();
        });
    }
});

describe("two runs at once", () => {
    it("the second waits for the first, and both succeed", async () => {
        const [a, b] = await Promise.all([up(), up()]);
        expect(a.status, a.stderr).toBe(0);
        expect(b.status, b.stderr).toBe(0);
        expect(`${a.stderr}${b.stderr}`).not.toContain("Address already assigned");
        expectHealthy();
    });
});
