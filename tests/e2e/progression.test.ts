// End to end on real pods: the real `pulumi` engine, the kubernetes provider and the dynamic
// provider shim, against the local control plane with its real node (containerd, kubelet,
// kube-proxy, CoreDNS, kube-router). The app runs from the image the node holds; the smoke checks
// reach it the way real traffic does, through the in-cluster ingress proxy to each Service. The app
// runs as revisions: the checks judge the candidate on the preview Service (web-preview), and the
// live Service (web) moves to it only after they passed; where live traffic is, this file reads
// from the live Service's selector (tests/e2e/helpers/live.ts) and from the stack output
// `release`. The cluster is shared by the e2e files (tests/e2e/realCluster.ts); this file removes
// its stacks.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_CHECKSUM } from "../../components/app";
import { ENVIRONMENT_RULES, ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { deployProbes, measure, netcheck, removeProbes, renderMeasurement, standardSources } from "../../tests/harness/probes";
import { type Cluster, ingressUrl, kubectlJson, type LocalImages, localSecrets, prepareStack, progress, REAL_NODE, realNodeOverrides, REPO, useToolchain, type Workspace, workspace } from "../../tests/harness/local";
import { liveDeployment, liveRevision, liveSelector, REVISION_LABEL, revisionDeployments, revisionPods } from "./helpers/live";
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

/** The stack output `release`: where live traffic is, the rollback target, the candidate. */
interface Release {
    readonly live: string;
    readonly previous: string | null;
    readonly candidate: string;
}
const releaseOf = async (stack: Stack) => (await stack.outputs())["release"]?.value as Release;
/** A GET through the ingress proxy, as users come in: the status, and the body when it is JSON. */
async function through(url: string): Promise<{ status: number; body: any }> {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    let body: unknown;
    try {
        body = JSON.parse(text);
    } catch {
        body = text;
    }
    return { status: res.status, body };
}

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
    it("stops at staging when staging's candidate fails its checks on the preview route: no user reaches it, dev keeps serving, prod is not deployed", async () => {
        const result = await progress([
            ["dev", await stackFor("dev")],
            ["staging", await stackFor("staging", { fail: "db" })],
            ["prod", await stackFor("prod")],
        ]);
        expect(result.deployed).toEqual(["dev"]);
        expect(result.failed?.environment).toBe("staging");
        // The candidate's rollout succeeded (the pods are fine); the smoke gate, going through the
        // ingress to the preview Service, found the candidate broken, and says so in `up`'s output.
        const output = result.failed?.output ?? "";
        expect(output).toContain("smoke checks failed");
        expect(output).toContain("live traffic did not move");
        expect(output).toMatch(/FAIL\s+db-status\s+GET\s+http:\/\/198\.19\.0\.80\/web-staging\/web-preview:8080\/api\/db-status/);
        expect(output).toContain("JSON field connected is false, not true");
        expect(output).toMatch(/the candidate's pods \(namespace web-staging\):\n\s*pod web-[0-9a-f]{10}-/);
        expect(await kubernetesResources(stacks["prod"]!)).toEqual([]);
        expect(exists(["namespace", "web-prod"])).toBe(false);
        // dev's live revision keeps serving: the revision its up switched to, its one pod Ready,
        // answering on the live route.
        const dev = result.outputs.dev?.["release"] as Release;
        expect(dev.live).toMatch(/^[0-9a-f]{10}$/);
        expect(liveRevision(cluster, "web-dev")).toBe(dev.live);
        expect(liveDeployment(cluster, "web-dev").status.readyReplicas).toBe(1);
        expect(await through(`${ingressUrl("web-dev")}/api/db-status`)).toEqual({ status: 200, body: { connected: true } });
        // staging's candidate keeps running, 3 Ready pods, for inspection behind the preview route,
        // where it still answers what failed; the live Service selects no revision: no user request
        // ever reached the unverified pods.
        const [candidate, ...others] = revisionDeployments(cluster, "web-staging");
        expect(others).toEqual([]);
        expect(candidate).toEqual([expect.stringMatching(/^web-[0-9a-f]{10}$/), 3]);
        expect(get(["deployment", candidate![0], "-n", "web-staging"]).status.readyReplicas).toBe(3);
        expect(liveSelector(cluster, "web-staging")).toBeUndefined();
        expect((await through(`${ingressUrl("web-staging", "web-preview")}/api/db-status`)).body).toMatchObject({ connected: false });
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
        // The fixed candidate went live; the failed one never was live, so there is no rollback
        // target, and its objects are gone.
        const staging = result.outputs.staging?.["release"] as Release;
        expect(staging.live).toBe(staging.candidate);
        expect(staging.previous).toBeNull();
        expect(liveRevision(cluster, "web-staging")).toBe(staging.live);
        expect(revisionDeployments(cluster, "web-staging")).toEqual([[`web-${staging.live}`, 3]]);
        expect(await through(`${ingressUrl("web-staging")}/api/db-status`)).toEqual({ status: 200, body: { connected: true } });
    });

    it("runs every replica of the live revision as a real pod on the real node: 1, 3 and 50, Ready, with pod-network addresses", async () => {
        for (const env of ENVIRONMENTS) {
            const ns = `web-${env}`;
            const want = { dev: 1, staging: 3, prod: 50 }[env];
            // The revision the live Service selects is the one the stack says is live, and the only one.
            const revision = liveRevision(cluster, ns);
            expect(revision, env).toBe((await releaseOf(stacks[env]!)).live);
            expect(revisionDeployments(cluster, ns)).toEqual([[`web-${revision}`, want]]);
            const deployment = get(["deployment", `web-${revision}`, "-n", ns]);
            expect(deployment.spec.replicas).toBe(want);
            expect(deployment.status.readyReplicas).toBe(want);
            const pods = revisionPods(cluster, ns, revision!);
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
            // The live Service selects the live revision, set by the switch; the preview Service the
            // candidate, which after a passing up is the same revision.
            const revision = liveRevision(cluster, ns);
            const selector = { "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": `web-${env}`, [REVISION_LABEL]: revision };
            const live = get(["service", "web", "-n", ns]);
            expect(live.spec.ports[0].port).toBe(8080);
            expect(live.spec.selector).toEqual(selector);
            const preview = get(["service", "web-preview", "-n", ns]);
            expect(preview.spec).toMatchObject({ type: "ClusterIP", selector });
            expect(preview.spec.ports[0].port).toBe(8080);
            expect(exists(["configmap", `web-${revision}-config`, "-n", ns])).toBe(true);
            expect(exists(["secret", `web-${revision}-secrets`, "-n", ns])).toBe(true);
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
            expect(m.unmeasured, renderMeasurement(m)).toEqual([]);
            expect(m.ok).toBe(true);
            // The whole matrix: every probe (3 environments, the ingress controller's namespace, the
            // spoofer) to every environment's app and to DNS over UDP and TCP.
            const cell = (from: string, to: string, probe: string) => m.cells.find((c) => c.from === `${from}/probe` && c.to === to && c.probe === probe)!;
            // Each environment's app is its live revision's Deployment, web-<revision>.
            const app = Object.fromEntries(ENVIRONMENTS.map((e) => [e, `web-${e}/web-${liveRevision(cluster, `web-${e}`)}`])) as Record<
                EnvironmentName,
                string
            >;
            for (const from of [...ENVIRONMENTS.map((e) => `web-${e}`), "ingress-nginx", "spoof-prod"]) {
                for (const env of ENVIRONMENTS) expect(cell(from, app[env], "app"), `${from} -> ${env}`).toBeDefined();
                for (const p of ["dns-udp", "dns-tcp"]) expect(cell(from, "kube-system/coredns", p), `${from} -> ${p}`).toBeDefined();
            }
            // What isolation means, seen on the wire:
            expect(cell("web-dev", app.dev, "app").measured).toBe(true); // same environment
            expect(cell("web-dev", app.prod, "app").measured).toBe(false); // across environments
            expect(cell("web-prod", app.staging, "app").measured).toBe(false);
            expect(cell("spoof-prod", app.prod, "app").measured).toBe(false); // labels copied, not admitted
            expect(cell("ingress-nginx", app.prod, "app").measured).toBe(true); // the ingress controller
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

    it("a failed smoke check on an update fails up after the candidate rolled out beside the live revision, which keeps all live traffic; the next up after the fix checks again and switches", async () => {
        const live = liveRevision(cluster, "web-staging")!;
        const before = get(["deployment", `web-${live}`, "-n", "web-staging"]).spec.template.metadata.annotations[CONFIG_CHECKSUM];
        expect(before).toMatch(/^[0-9a-f]{64}$/);
        const flagged = await stackFor("staging", { fail: "action", overrides: { featureFlags: { newCheckout: true, searchV2: true } } });
        const failed = await progress([["staging", flagged]]);
        expect(failed.failed?.output).toMatch(/FAIL\s+test-action\s+POST\s+http:\/\/198\.19\.0\.80\/web-staging\/web-preview:8080\/api\/test-action/);
        expect(failed.failed?.output).toContain("live traffic did not move");
        // The candidate's rollout happened and stays: a revision of its own, real pods with the new
        // config, beside the live revision; only the gate failed.
        const names = revisionDeployments(cluster, "web-staging").map(([name]) => name);
        expect(names).toHaveLength(2);
        expect(names).toContain(`web-${live}`);
        const rolled = get(["deployment", names.find((n) => n !== `web-${live}`)!, "-n", "web-staging"]);
        expect(rolled.spec.template.metadata.annotations[CONFIG_CHECKSUM]).toMatch(/^[0-9a-f]{64}$/);
        expect(rolled.spec.template.metadata.annotations[CONFIG_CHECKSUM]).not.toBe(before);
        expect(rolled.status.updatedReplicas).toBe(3);
        expect(rolled.status.readyReplicas).toBe(3);
        // Live traffic stayed on the revision that was live, all of it: its pods answer the action
        // the candidate fails.
        expect(liveRevision(cluster, "web-staging")).toBe(live);
        expect((await releaseOf(flagged)).live).toBe(live);
        for (let i = 0; i < 5; i++) {
            const res = await fetch(`${ingressUrl("web-staging")}/api/test-action`, { method: "POST", body: "{}", signal: AbortSignal.timeout(5_000) });
            expect(await res.json()).toMatchObject({ success: true });
        }
        const fixed = await progress([["staging", await stackFor("staging", { overrides: { featureFlags: { newCheckout: true, searchV2: true } } })]]);
        expect(fixed.deployed).toEqual(["staging"]);
        expect(Date.parse((fixed.outputs.staging?.["smoke"] as { passedAt: string }).passedAt)).toBeGreaterThan(Date.now() - 2 * 60_000);
        // The fixed candidate is live; the revision that was live is the rollback target, kept warm;
        // the failed candidate is gone.
        const release = fixed.outputs.staging?.["release"] as Release;
        expect(release.live).toBe(release.candidate);
        expect(release.live).not.toBe(live);
        expect(release.previous).toBe(live);
        expect(liveRevision(cluster, "web-staging")).toBe(release.live);
        expect(revisionDeployments(cluster, "web-staging")).toEqual(
            [
                [`web-${release.live}`, 3],
                [`web-${live}`, ENVIRONMENT_RULES.staging.warmReplicas],
            ].sort(([a], [b]) => String(a).localeCompare(String(b))),
        );
    });

    it("fails up at the candidate's rollout, with the pod's reason and before any smoke check, when the image crashes, listens on the wrong port or writes to its read-only root; live traffic stays where it was", async () => {
        // The crashing image replaces a verified revision that is live; the other two are first deploys.
        const cases = [
            ["web-crash", "dev-crash", /CrashLoopBackOff|back-off .* restarting failed container/, true],
            ["web-wrong-port", "dev-wrong-port", /containers with unready status: \[app\]/, false],
            ["web-writes-root", "dev-writes-root", /CrashLoopBackOff|back-off .* restarting failed container/, false],
        ] as const;
        const results = await Promise.all(
            cases.map(async ([image, name, , replacesLive]) => {
                const overrides = { namespace: `web-${name}`, rolloutTimeout: "40s" };
                let live: string | null = null;
                if (replacesLive) {
                    const first = await progress([["dev", await stackFor("dev", { stackName: name, overrides })]]);
                    expect(first.failed?.output, `${image}: the first, good revision`).toBeUndefined();
                    live = (first.outputs.dev?.["release"] as Release).live;
                }
                return { live, result: await progress([["dev", await stackFor("dev", { image, stackName: name, overrides })]]) };
            }),
        );
        for (const [i, { live, result }] of results.entries()) {
            const [image, name, reason] = cases[i]!;
            const ns = `web-${name}`;
            expect(result.failed?.environment, image).toBe("dev");
            const output = result.failed!.output;
            expect(output, image).toMatch(/failed to fully initialize or become live|Minimum number of (live )?Pods/);
            expect(output, image).toMatch(reason);
            // The candidate revision's Deployment or pods, web-<revision>.
            expect(output, image).toMatch(new RegExp(`${ns}/web-[0-9a-f]{10}`));
            // The gate never ran: the rollout failed first.
            expect(output, image).not.toContain("smoke checks failed");
            // The candidate runs beside whatever was live, and never got live traffic.
            const candidates = revisionDeployments(cluster, ns).filter(([n]) => n !== `web-${live}`);
            expect(candidates, image).toHaveLength(1);
            expect(get(["deployment", candidates[0]![0], "-n", ns]).status.readyReplicas ?? 0, image).toBe(0);
            if (live === null) {
                // A first deploy: no revision ever went live, so the live Service selects none.
                expect(liveSelector(cluster, ns), image).toBeUndefined();
            } else {
                // Live traffic stays on the previous revision, which keeps serving.
                expect(liveRevision(cluster, ns), image).toBe(live);
                expect((await releaseOf(stacks[name]!)).live, image).toBe(live);
                expect(liveDeployment(cluster, ns).status.readyReplicas, image).toBe(1);
                expect(await through(`${ingressUrl(ns)}/api/db-status`), image).toEqual({ status: 200, body: { connected: true } });
            }
        }
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
        // The command checks the candidate on the preview route; live traffic never moved to it.
        expect(result.failed?.output).toContain("checking http://198.19.0.80/web-dev-cmd/web-preview:8080");
        expect(liveSelector(cluster, "web-dev-cmd")).toBeUndefined();
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
