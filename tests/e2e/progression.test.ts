// End to end: the real `pulumi` engine, the real kubernetes and command providers, the dynamic
// provider shim, and a real kube-apiserver (kwok simulates the nodes and pods). The suite starts
// its own cluster and tears everything down in afterAll, so CI needs nothing left running.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { type Cluster, clusterDown, clusterUp, kubectlJson, localSecrets, prepareStack, progress, REPO, type RunningApp, startApp, useToolchain, type Workspace, workspace } from "../../scripts/local";

const CLUSTER = `progression-e2e-${process.pid}`;
let tmp: string;
let cluster: Cluster;
let ws: Workspace;
let secrets: ReturnType<typeof localSecrets>;
const apps: Partial<Record<EnvironmentName, RunningApp>> = {};
const ports: Partial<Record<EnvironmentName, number>> = {};
const stacks: Partial<Record<string, Stack>> = {};

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
        server.on("error", reject);
    });
}

async function restartApp(env: EnvironmentName, fail?: string): Promise<void> {
    await apps[env]?.stop();
    apps[env] = await startApp({ port: ports[env]!, ...(fail ? { fail } : {}), logFile: path.join(tmp, `app-${env}.log`) });
}

async function stackFor(env: EnvironmentName, overrides: Record<string, unknown> = {}, stackName: string = env): Promise<Stack> {
    const stack = await prepareStack(ws, env, {
        cluster,
        stackName,
        smokeBaseUrl: `http://127.0.0.1:${ports[env]}`,
        secrets: secrets[env],
        overrides: { smokeDeadline: "8s", smokeInterval: "200ms", ...overrides },
    });
    stacks[stackName] = stack;
    return stack;
}

const get = <T = any>(args: string[]) => kubectlJson<T>(cluster, ["get", ...args]);
const exists = (args: string[]) =>
    spawnSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, "get", ...args], { encoding: "utf8" }).status === 0;
const kubernetesResources = async (stack: Stack) => ((await stack.exportStack()).deployment.resources ?? []).filter((r: { type: string }) => r.type.startsWith("kubernetes:"));

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-e2e-"));
    const toolEnv = useToolchain();
    // A PULUMI_HOME of the test's own, sharing only the plugins the toolchain installed.
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    cluster = clusterUp(CLUSTER, path.join(tmp, "kubeconfig"));
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
    secrets = localSecrets(path.join(tmp, "secrets.json"));
    for (const env of ENVIRONMENTS) {
        ports[env] = await freePort();
        await restartApp(env);
    }
});

afterAll(async () => {
    try {
        for (const stack of Object.values(stacks).reverse()) {
            await stack!.destroy({ color: "never" }).catch(() => undefined);
            await stack!.workspace.removeStack(stack!.name, { force: true }).catch(() => undefined);
        }
    } finally {
        for (const app of Object.values(apps)) await app?.stop();
        if (cluster) clusterDown(CLUSTER, cluster.kubeconfig);
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});

describe("the progression on a real engine and API server", () => {
    it("stops at staging when staging's app is broken, leaving dev and staging intact and prod undeployed", async () => {
        await restartApp("staging", "db");
        const result = await progress([
            ["dev", await stackFor("dev")],
            ["staging", await stackFor("staging")],
            ["prod", await stackFor("prod")],
        ]);
        expect(result.deployed).toEqual(["dev"]);
        expect(result.failed?.environment).toBe("staging");
        // The smoke report reaches the `pulumi up` output: the check, its URL, what was seen.
        expect(result.failed?.output).toMatch(/db-status/);
        expect(result.failed?.output).toMatch(/connected/);
        // prod was never attempted
        expect(await kubernetesResources(stacks["prod"]!)).toEqual([]);
        expect(exists(["namespace", "web-prod"])).toBe(false);
        // dev and staging are intact: nothing was rolled back or deleted
        expect(get(["deployment", "web", "-n", "web-dev"]).status.availableReplicas).toBe(1);
        expect(get(["deployment", "web", "-n", "web-staging"]).spec.replicas).toBe(3);
    });

    it("after the fix, the next up runs the checks again and the progression completes", async () => {
        await restartApp("staging");
        const result = await progress([
            ["staging", stacks["staging"]!],
            ["prod", stacks["prod"]!],
        ]);
        expect(result.failed?.output).toBeUndefined();
        expect(result.deployed).toEqual(["staging", "prod"]);
        const smoke = result.outputs.staging?.["smoke"] as { passedAt: string; results: unknown[] };
        expect(Date.parse(smoke.passedAt)).toBeGreaterThan(Date.now() - 5 * 60_000);
    });

    it("leaves the live objects the program describes: namespaces, policies, 1/3/50 available replicas, services, PDBs", () => {
        for (const env of ENVIRONMENTS) {
            const ns = `web-${env}`;
            const labels = get(["namespace", ns]).metadata.labels;
            expect(labels).toMatchObject({
                environment: env,
                "kubernetes.io/metadata.name": ns,
                "pod-security.kubernetes.io/enforce": env === "dev" ? "baseline" : "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            });
            const policies = get<{ items: any[] }>(["networkpolicies", "-n", ns]).items;
            expect(policies.map((p) => p.metadata.name).sort()).toEqual(["allow-dns", "allow-ingress-controller", "allow-same-environment", "default-deny"]);
            const deny = policies.find((p) => p.metadata.name === "default-deny");
            expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
            const deployment = get(["deployment", "web", "-n", ns]);
            const want = { dev: 1, staging: 3, prod: 50 }[env];
            expect(deployment.spec.replicas).toBe(want);
            expect(deployment.status.availableReplicas).toBe(want);
            expect(get(["service", "web", "-n", ns]).spec.ports[0].port).toBe(8080);
            expect(exists(["pdb", "web", "-n", ns])).toBe(env !== "dev");
        }
    });

    it("proves isolation on the live policies with `progression netcheck --kubeconfig`", () => {
        const run = spawnSync(path.join(REPO, "bin", "progression"), ["netcheck", "--kubeconfig", cluster.kubeconfig, "--json"], { encoding: "utf8" });
        expect(run.stderr).toBe("");
        expect(run.status).toBe(0);
        const report = JSON.parse(run.stdout) as { findings: unknown[] };
        expect(report.findings).toEqual([]);
    });

    it("a second up with nothing changed has nothing to do", async () => {
        for (const env of ENVIRONMENTS) {
            await expect(stacks[env]!.preview({ expectNoChanges: true, color: "never" })).resolves.toBeDefined();
        }
    });

    it("a failed smoke check on an update fails up; the next up after the fix checks again", async () => {
        const checksumBefore = get(["deployment", "web", "-n", "web-staging"]).spec.template.metadata.annotations["progression.dev/config-checksum"];
        expect(checksumBefore).toMatch(/^[0-9a-f]{64}$/);
        await restartApp("staging", "action");
        const flagged = await stackFor("staging", { featureFlags: { newCheckout: true, searchV2: true } });
        const failed = await progress([["staging", flagged]]);
        expect(failed.failed?.output).toMatch(/test-action/);
        // The rollout itself happened and stays: only the gate failed. The flag change rolled the pods.
        const annotations = get(["deployment", "web", "-n", "web-staging"]).spec.template.metadata.annotations;
        expect(annotations["progression.dev/config-checksum"]).toMatch(/^[0-9a-f]{64}$/);
        expect(annotations["progression.dev/config-checksum"]).not.toBe(checksumBefore);
        await restartApp("staging");
        const fixed = await progress([["staging", flagged]]);
        expect(fixed.deployed).toEqual(["staging"]);
    });

    it("refuses a prod stack pointed at another API server before creating anything", async () => {
        const guarded = await stackFor("prod", { kubeServer: "https://127.0.0.1:1", namespace: "web-prod-guard" }, "prod-guard");
        const result = await progress([["prod", guarded]]);
        expect(result.failed?.output).toContain("Refusing before creating anything");
        expect(await kubernetesResources(guarded)).toEqual([]);
        expect(exists(["namespace", "web-prod-guard"])).toBe(false);
    });

    it("in command mode, a non-zero exit of the team's smoke command fails up", async () => {
        const cmd = await stackFor("dev", { namespace: "web-dev-cmd", smokeCommand: "echo checking $SMOKE_BASE_URL; exit 3" }, "dev-command");
        const result = await progress([["dev", cmd]]);
        expect(result.failed?.output).toMatch(/exit (status|code) 3|exited with 3|status 3/);
        expect(result.failed?.output).toContain("checking http://127.0.0.1:");
    });

    it("destroy removes everything the stacks created", async () => {
        for (const name of ["dev-command", "prod", "staging", "dev"]) {
            await stacks[name]!.destroy({ color: "never" });
            expect(await kubernetesResources(stacks[name]!)).toEqual([]);
        }
        for (const ns of ["web-dev", "web-staging", "web-prod", "web-dev-cmd"]) {
            // Namespace deletion finishes asynchronously (finalizers); Pulumi waits for it.
            expect(exists(["namespace", ns]), ns).toBe(false);
        }
    });
});
