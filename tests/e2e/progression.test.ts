// End to end on real pods: the real `pulumi` engine, the kubernetes provider and the dynamic
// provider shim, against the local control plane with its real node (containerd, kubelet,
// kube-proxy, CoreDNS, kube-router). The app runs from the image the node holds; the smoke checks
// reach it the way real traffic does, through the in-cluster ingress proxy to each Service. The
// cluster is shared by the e2e files (tests/e2e/realCluster.ts); this file removes its stacks.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { deployProbes, measure, netcheck, removeProbes, renderMeasurement, standardSources } from "../../scripts/isolation";
import { type Cluster, ingressUrl, kubectlJson, type LocalImages, localSecrets, prepareStack, progress, REAL_NODE, realNodeOverrides, REPO, useToolchain, type Workspace, workspace } from "../../scripts/local";
import { realCluster } from "./realCluster";

let tmp: string;
let cluster: Cluster;
let ws: Workspace;
let secrets: ReturnType<typeof localSecrets>;
const stacks: Partial<Record<string, Stack>> = {};

interface StackOptions {
    readonly overrides?: Record<string, unknown>;
    readonly fail?: string;
    readonly image?: keyof LocalImages;
    readonly stackName?: string;
}

async function stackFor(env: EnvironmentName, opts: StackOptions = {}): Promise<Stack> {
    const stackName = opts.stackName ?? env;
    const namespace = (opts.overrides?.["namespace"] as string | undefined) ?? `web-${env}`;
    const stack = await prepareStack(ws, env, {
        cluster,
        stackName,
        smokeBaseUrl: ingressUrl(namespace),
        secrets: secrets[env],
        overrides: { ...realNodeOverrides(cluster, opts.image), smokeDeadline: "8s", smokeInterval: "200ms", rolloutTimeout: "3m", ...opts.overrides },
        ...(opts.fail ? { extraEnv: { FAIL: opts.fail } } : {}),
    });
    stacks[stackName] = stack;
    return stack;
}

const get = <T = any>(args: string[]) => kubectlJson<T>(cluster, ["get", ...args]);
const exists = (args: string[]) =>
    spawnSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, "get", ...args], { encoding: "utf8" }).status === 0;
const kubernetesResources = async (stack: Stack) => ((await stack.exportStack()).deployment.resources ?? []).filter((r: { type: string }) => r.type.startsWith("kubernetes:"));
const inPodRange = (ip: string) => ip.startsWith(REAL_NODE.podCidr.replace(/0\/24$/, ""));

beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "progression-e2e-"));
    const toolEnv = useToolchain();
    // A PULUMI_HOME of the test's own, sharing only the plugins the toolchain installed.
    const home = path.join(tmp, "pulumi-home");
    fs.mkdirSync(home);
    if (toolEnv["PULUMI_HOME"]) fs.symlinkSync(path.join(toolEnv["PULUMI_HOME"], "plugins"), path.join(home, "plugins"));
    cluster = realCluster();
    ws = workspace(tmp, { PATH: process.env["PATH"] ?? "", PULUMI_HOME: home });
    secrets = localSecrets(path.join(tmp, "secrets.json"));
});

afterAll(async () => {
    try {
        for (const stack of Object.values(stacks).reverse()) {
            await stack!.destroy({ color: "never" }).catch(() => undefined);
            await stack!.workspace.removeStack(stack!.name, { force: true }).catch(() => undefined);
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});

describe("the progression on real pods", () => {
    it("stops at staging when staging's deployed app is broken, leaving dev and staging running and prod undeployed", async () => {
        const result = await progress([
            ["dev", await stackFor("dev")],
            ["staging", await stackFor("staging", { fail: "db" })],
            ["prod", await stackFor("prod")],
        ]);
        expect(result.deployed).toEqual(["dev"]);
        expect(result.failed?.environment).toBe("staging");
        // The rollout succeeded (the pods are fine); the smoke gate, going through the ingress to
        // the Service, found the deployed app broken, and says so in `up`'s output.
        expect(result.failed?.output).toContain("smoke checks failed");
        expect(result.failed?.output).toMatch(/FAIL\s+db-status\s+GET\s+http:\/\/198\.19\.0\.80\/web-staging\/web:8080\/api\/db-status/);
        expect(result.failed?.output).toContain("JSON field connected is false, not true");
        expect(await kubernetesResources(stacks["prod"]!)).toEqual([]);
        expect(exists(["namespace", "web-prod"])).toBe(false);
        // dev and staging keep running real pods: nothing was rolled back or deleted.
        expect(get(["deployment", "web", "-n", "web-dev"]).status.readyReplicas).toBe(1);
        expect(get(["deployment", "web", "-n", "web-staging"]).status.readyReplicas).toBe(3);
    });

    it("after the fix, the next up runs the checks again and the progression completes", async () => {
        const result = await progress([
            ["staging", await stackFor("staging")],
            ["prod", stacks["prod"]!],
        ]);
        expect(result.failed?.output).toBeUndefined();
        expect(result.deployed).toEqual(["staging", "prod"]);
        const smoke = result.outputs.staging?.["smoke"] as { passedAt: string; baseUrl: string };
        expect(Date.parse(smoke.passedAt)).toBeGreaterThan(Date.now() - 5 * 60_000);
        expect(smoke.baseUrl).toBe("http://198.19.0.80/web-staging/web:8080");
    });

    it("runs every replica as a real pod on the real node: 1, 3 and 50, Ready, with pod-network addresses", () => {
        for (const env of ENVIRONMENTS) {
            const ns = `web-${env}`;
            const want = { dev: 1, staging: 3, prod: 50 }[env];
            const deployment = get(["deployment", "web", "-n", ns]);
            expect(deployment.spec.replicas).toBe(want);
            expect(deployment.status.readyReplicas).toBe(want);
            const pods = get<{ items: any[] }>(["pods", "-n", ns, "-l", "app.kubernetes.io/name=web"]).items.filter((p) => !p.metadata.deletionTimestamp);
            expect(pods).toHaveLength(want);
            for (const pod of pods) {
                expect(pod.spec.nodeName).toBe(`${cluster.name}-node`);
                expect(pod.status.phase).toBe("Running");
                expect(inPodRange(pod.status.podIP), pod.status.podIP).toBe(true);
                expect(pod.status.containerStatuses[0].imageID).toContain(cluster.images!.web.split("@")[1]);
            }
        }
    });

    it("leaves the live objects the program describes: namespaces, policies, services, PDBs", () => {
        for (const env of ENVIRONMENTS) {
            const ns = `web-${env}`;
            expect(get(["namespace", ns]).metadata.labels).toMatchObject({
                environment: env,
                "kubernetes.io/metadata.name": ns,
                "pod-security.kubernetes.io/enforce": env === "dev" ? "baseline" : "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            });
            const policies = get<{ items: any[] }>(["networkpolicies", "-n", ns]).items;
            expect(policies.map((p) => p.metadata.name).sort()).toEqual(["allow-dns", "allow-ingress-controller", "allow-same-environment", "default-deny"]);
            expect(get(["service", "web", "-n", ns]).spec.ports[0].port).toBe(8080);
            expect(exists(["pdb", "web", "-n", ns])).toBe(env !== "dev");
        }
    });

    it("judges the live policies isolated with `progression netcheck --kubeconfig`", () => {
        const run = spawnSync(path.join(REPO, "bin", "progression"), ["netcheck", "--kubeconfig", cluster.kubeconfig, "--json"], { encoding: "utf8" });
        expect(run.status, run.stderr).toBe(0);
        expect((JSON.parse(run.stdout) as { findings: unknown[] }).findings).toEqual([]);
    });

    it("measures isolation with real connections, and the measured matrix equals netcheck's verdicts", async () => {
        const report = netcheck(cluster);
        const sources = standardSources(cluster, report, "spoof-prod");
        try {
            const ips = deployProbes(cluster, cluster.images!.tools, sources);
            const m = await measure(cluster, ips);
            expect(m.enforcer.running).toBe(true);
            expect(m.mismatches, renderMeasurement(m)).toEqual([]);
            expect(m.ok).toBe(true);
            // The whole matrix: every probe (3 environments, the ingress controller's namespace, the
            // spoofer) to every environment's app and to DNS over UDP and TCP.
            const cell = (from: string, to: string, probe: string) => m.cells.find((c) => c.from === `${from}/probe` && c.to === to && c.probe === probe)!;
            for (const from of [...ENVIRONMENTS.map((e) => `web-${e}`), "ingress-nginx", "spoof-prod"]) {
                for (const env of ENVIRONMENTS) expect(cell(from, `web-${env}/web`, "app"), `${from} -> ${env}`).toBeDefined();
                for (const p of ["dns-udp", "dns-tcp"]) expect(cell(from, "kube-system/coredns", p), `${from} -> ${p}`).toBeDefined();
            }
            // What isolation means, seen on the wire:
            expect(cell("web-dev", "web-dev/web", "app").measured).toBe(true); // same environment
            expect(cell("web-dev", "web-prod/web", "app").measured).toBe(false); // across environments
            expect(cell("web-prod", "web-staging/web", "app").measured).toBe(false);
            expect(cell("spoof-prod", "web-prod/web", "app").measured).toBe(false); // labels copied, not admitted
            expect(cell("ingress-nginx", "web-prod/web", "app").measured).toBe(true); // the ingress controller
            for (const env of ENVIRONMENTS) {
                expect(cell(`web-${env}`, "kube-system/coredns", "dns-udp").measured).toBe(true); // DNS works
                expect(cell(`web-${env}`, "kube-system/coredns", "dns-tcp").measured).toBe(true);
            }
        } finally {
            removeProbes(cluster, sources);
        }
    });

    it("a second up with nothing changed has nothing to do", async () => {
        for (const env of ENVIRONMENTS) {
            await expect(stacks[env]!.preview({ expectNoChanges: true, color: "never" })).resolves.toBeDefined();
        }
    });

    it("a failed smoke check on an update fails up after the new pods rolled out; the next up after the fix checks again", async () => {
        const before = get(["deployment", "web", "-n", "web-staging"]).spec.template.metadata.annotations["progression.dev/config-checksum"];
        expect(before).toMatch(/^[0-9a-f]{64}$/);
        const flagged = await stackFor("staging", { fail: "action", overrides: { featureFlags: { newCheckout: true, searchV2: true } } });
        const failed = await progress([["staging", flagged]]);
        expect(failed.failed?.output).toMatch(/FAIL\s+test-action/);
        // The rollout itself happened and stays: real pods with the new config, only the gate failed.
        const rolled = get(["deployment", "web", "-n", "web-staging"]);
        expect(rolled.spec.template.metadata.annotations["progression.dev/config-checksum"]).toMatch(/^[0-9a-f]{64}$/);
        expect(rolled.spec.template.metadata.annotations["progression.dev/config-checksum"]).not.toBe(before);
        expect(rolled.status.updatedReplicas).toBe(3);
        const fixed = await progress([["staging", await stackFor("staging", { overrides: { featureFlags: { newCheckout: true, searchV2: true } } })]]);
        expect(fixed.deployed).toEqual(["staging"]);
        expect(Date.parse((fixed.outputs.staging?.["smoke"] as { passedAt: string }).passedAt)).toBeGreaterThan(Date.now() - 2 * 60_000);
    });

    it("fails up at the rollout, with the pod's reason and before any smoke check, when the image crashes, listens on the wrong port or writes to its read-only root", async () => {
        const cases = [
            ["web-crash", "dev-crash", /CrashLoopBackOff|back-off .* restarting failed container/],
            ["web-wrong-port", "dev-wrong-port", /containers with unready status: \[app\]/],
            ["web-writes-root", "dev-writes-root", /CrashLoopBackOff|back-off .* restarting failed container/],
        ] as const;
        const results = await Promise.all(
            cases.map(async ([image, name]) =>
                progress([["dev", await stackFor("dev", { image, stackName: name, overrides: { namespace: `web-${name}`, rolloutTimeout: "40s" } })]]),
            ),
        );
        results.forEach((result, i) => {
            const [image, name, reason] = cases[i]!;
            expect(result.failed?.environment, image).toBe("dev");
            const output = result.failed!.output;
            expect(output, image).toMatch(/failed to fully initialize or become live|Minimum number of (live )?Pods/);
            expect(output, image).toMatch(reason);
            expect(output, image).toContain(`web-${name}/web`);
            // The gate never ran: the rollout failed first.
            expect(output, image).not.toContain("smoke checks failed");
        });
        // What the pods themselves say: a probe refused on the port the app should listen on, an exit.
        const events = (ns: string) =>
            get<{ items: { reason: string; message: string }[] }>(["events", "-n", ns]).items.map((e) => `${e.reason}: ${e.message}`).join("\n");
        expect(events("web-dev-wrong-port")).toMatch(/(Startup|Readiness) probe failed: Get "http:\/\/198\.18\.0\.\d+:8080\/healthz": .*connect: connection refused/);
        const crashed = get<{ items: any[] }>(["pods", "-n", "web-dev-writes-root"]).items[0];
        expect(crashed.status.containerStatuses[0].restartCount).toBeGreaterThan(0);
    });

    it("refuses a prod stack pointed at another API server before creating anything", async () => {
        const guarded = await stackFor("prod", { stackName: "prod-guard", overrides: { kubeServer: "https://127.0.0.1:1", namespace: "web-prod-guard" } });
        const result = await progress([["prod", guarded]]);
        expect(result.failed?.output).toContain("Refusing before creating anything");
        expect(await kubernetesResources(guarded)).toEqual([]);
        expect(exists(["namespace", "web-prod-guard"])).toBe(false);
    });

    it("in command mode, a non-zero exit of the team's smoke command fails up", async () => {
        const cmd = await stackFor("dev", { stackName: "dev-command", overrides: { namespace: "web-dev-cmd", smokeCommand: "echo checking $SMOKE_BASE_URL; exit 3" } });
        const result = await progress([["dev", cmd]]);
        expect(result.failed?.output).toMatch(/exit (status|code) 3|exited with 3|status 3/);
        expect(result.failed?.output).toContain("checking http://198.19.0.80/web-dev-cmd/web:8080");
    });

    it("destroy removes everything the stacks created, pods included", async () => {
        for (const name of ["dev-command", "dev-crash", "dev-wrong-port", "dev-writes-root", "prod", "staging", "dev"]) {
            await stacks[name]!.destroy({ color: "never" });
            expect(await kubernetesResources(stacks[name]!)).toEqual([]);
        }
        for (const ns of ["web-dev", "web-staging", "web-prod", "web-dev-cmd", "web-dev-crash"]) {
            expect(exists(["namespace", ns]), ns).toBe(false);
        }
        expect(get<{ items: unknown[] }>(["pods", "-A", "-l", "app.kubernetes.io/part-of=env-progression"]).items).toEqual([]);
    });
});
