// Pod Security and the node's own health, on real pods: the program's own manifests (from the
// builders the components use) run under Pod Security `restricted` with a read-only root and
// probes that really fire; a pod that would run privileged is refused with the admission message;
// and a part of the node that stops is named by `cluster.sh status` and started again by `up`.
// The app's manifests render one revision: Deployment web-<revision>, its ConfigMap and Secret, the
// preview Service selecting it, and the live Service. Uses the shared real-node cluster
// (tests/e2e/realCluster.ts); removes what it creates.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentManifests } from "../../components/manifests";
import { validateConfig } from "../../config/schema";
import { readStackRaw } from "../../config/stackFile";
import { cacheDir, type Cluster, clusterStatus, kubectlJson, type LocalImages, useToolchain } from "../../tests/harness/local";
import { realCluster } from "./realCluster";

const NAMESPACES = { ok: "admit-ok", roots: "admit-roots", probes: "admit-probes" };
let cluster: Cluster;

const kubectl = (args: string[], input?: string) =>
    spawnSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, ...args], { encoding: "utf8", ...(input ? { input } : {}) });

/** staging's committed config, in its own namespace, on an image the node holds. */
function stagingManifests(namespace: string, image: keyof LocalImages, env: Record<string, string> = {}) {
    const raw = readStackRaw("staging");
    const values = { ...raw.values, namespace, image: cluster.images![image], replicas: 2, cpuRequest: "10m", memoryRequest: "64Mi", env: { ...(raw.values["env"] as object), ...env } };
    const config = validateConfig({ ...raw, values: { ...values, DATABASE_URL: "<secret>", API_TOKEN: "<secret>" }, secretKeys: new Set(["DATABASE_URL", "API_TOKEN"]) }, "staging");
    return environmentManifests(config).map((o) => (o.kind === "Secret" ? { ...o, stringData: { DATABASE_URL: "postgres://local", API_TOKEN: "local" } } : o));
}

/** The rendered app Deployment's name, web-<revision>. */
let deploymentName: string;

function apply(objects: unknown[]): void {
    const run = kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    expect(run.status, run.stderr).toBe(0);
}

const pods = (ns: string) => kubectlJson<{ items: any[] }>(cluster, ["-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=web"]).items;
const events = (ns: string) => kubectlJson<{ items: { reason: string; message: string }[] }>(cluster, ["-n", ns, "get", "events"]).items.map((e) => `${e.reason}: ${e.message}`);

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = fn();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

beforeAll(() => {
    useToolchain();
    cluster = realCluster();
    const ok = stagingManifests(NAMESPACES.ok, "web");
    deploymentName = ok.find((o) => o.kind === "Deployment")!.metadata.name;
    expect(deploymentName).toMatch(/^web-[0-9a-f]{10}$/);
    apply([...ok, ...stagingManifests(NAMESPACES.roots, "web-writes-root"), ...stagingManifests(NAMESPACES.probes, "web", { FAIL: "healthz" })]);
});

afterAll(() => {
    if (!cluster) return;
    for (const ns of Object.values(NAMESPACES)) kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=false"]);
});

describe("Pod Security restricted, on real pods", () => {
    it("runs the app as the builders render it: restricted enforced, non-root, read-only root, Ready through its probes", () => {
        const ns = kubectlJson(cluster, ["get", "namespace", NAMESPACES.ok]);
        expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
        const r = kubectl(["-n", NAMESPACES.ok, "rollout", "status", `deployment/${deploymentName}`, "--timeout=120s"]);
        expect(r.status, r.stderr + r.stdout).toBe(0);
        for (const pod of pods(NAMESPACES.ok)) {
            const c = pod.spec.containers[0];
            expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } });
            expect(c.readinessProbe.httpGet.path).toBe("/healthz");
            expect(pod.status.containerStatuses[0]).toMatchObject({ ready: true, restartCount: 0 });
        }
    });

    it("really mounts the root read-only: an image that writes to it fails with EROFS", async () => {
        const crashed = await until("the writing container to fail", () => pods(NAMESPACES.roots).find((p) => p.status.containerStatuses?.[0]?.lastState?.terminated));
        expect(crashed.status.containerStatuses[0].lastState.terminated.exitCode).not.toBe(0);
        // The failed container's log, read again while the pod restarts: kubelet replaces the
        // "previous" container on each restart, and for a moment kubectl prints "unable to
        // retrieve container logs" instead of the log, with exit status 0.
        const logs = await until("the failed container's log", () => {
            const run = kubectl(["-n", NAMESPACES.roots, "logs", crashed.metadata.name, "--previous"]);
            return run.status === 0 && !run.stdout.startsWith("unable to retrieve container logs") ? run.stdout : undefined;
        }, 30_000);
        expect(logs).toContain("EROFS: read-only file system, open '/app/started'");
    });

    it("really probes: an app whose /healthz fails is never Ready, and kubelet reports the probe's answer", async () => {
        const failures = await until("a failed probe event", () => events(NAMESPACES.probes).find((e) => /probe failed: HTTP probe failed with statuscode: 500/.test(e)));
        expect(failures).toMatch(/^Unhealthy: (Startup|Readiness|Liveness) probe failed/);
        for (const pod of pods(NAMESPACES.probes)) expect(pod.status.containerStatuses[0].ready).toBe(false);
    });

    it("refuses a pod that would run privileged and as root, with Pod Security's message", () => {
        const unsafe = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "unsafe", namespace: NAMESPACES.ok },
            spec: { containers: [{ name: "shell", image: cluster.images!.web, securityContext: { privileged: true, runAsUser: 0 } }] },
        };
        const run = kubectl(["apply", "-f", "-"], JSON.stringify(unsafe));
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain('pods "unsafe" is forbidden: violates PodSecurity "restricted:latest"');
        expect(run.stderr).toContain('privileged (container "shell" must not set securityContext.privileged=true)');
        expect(run.stderr).toContain("runAsNonRoot != true");
        expect(kubectl(["-n", NAMESPACES.ok, "get", "pod", "unsafe"]).status).not.toBe(0);
    });
});

describe("the node's parts", () => {
    it("status names a stopped part and how to start it; up starts it again", () => {
        const pids = path.join(cacheDir(), "clusters", cluster.name, "pids");
        for (const part of ["kubelet", "containerd"]) process.kill(Number(fs.readFileSync(path.join(pids, `${part}.pid`), "utf8")), "SIGKILL");
        const down = clusterStatus(cluster.name, cluster.kubeconfig);
        expect(down.ok).toBe(false);
        expect(down.text).toMatch(/containerd: NOT RUNNING \(log .*containerd\.log\)/);
        expect(down.text).toMatch(/kubelet: NOT RUNNING \(log .*kubelet\.log\)/);
        expect(down.text).toContain(`start them: PROGRESSION_CLUSTER=${cluster.name} cluster/cluster.sh up`);
        realCluster();
        const up = clusterStatus(cluster.name, cluster.kubeconfig);
        expect(up.text).toMatch(/containerd: running/);
        expect(up.text).toMatch(/kubelet: running/);
        expect(up.ok, up.text).toBe(true);
        // The pods kept running through it (their shims outlive containerd) and are still Ready.
        expect(
            execFileSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "-n", NAMESPACES.ok, "rollout", "status", `deployment/${deploymentName}`, "--timeout=60s"], { encoding: "utf8" }),
        ).toContain("successfully rolled out");
    });
});
