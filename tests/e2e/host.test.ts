// The real node and the machine it runs on: nothing on the node answers a request without
// credentials, and its teardown leaves the machine as it found it, another cluster's chains and
// sets included. Snapshots the machine (tests/e2e/helpers/host.ts) with the node stopped, starts
// the shared real-node cluster, and stops it again at the end (the next file starts it anew).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheDir, type Cluster, clusterDown, kubectlJson, REAL_NODE, useToolchain } from "../harness/local";
import { diffSnapshots, type HostSnapshot, hostSnapshot } from "./helpers/host";
import { realCluster, realClusterKubeconfig, realClusterName } from "./realCluster";

// Another cluster's chain and set. Their names start as kube-proxy's and kube-router's do, which
// teardown once removed by prefix.
const FOREIGN_CHAIN = "KUBE-FOREIGN-E2E";
const FOREIGN_SET = "kube-router-foreign-e2e";
const NODE_LIB = "/var/lib/env-progression";

let cluster: Cluster;
let before: HostSnapshot;
let dir: string;

function sh(cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000, ...(input !== undefined ? { input } : {}) });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/**
 * A request from a local user without credentials (nobody), or as root with the ones given: the
 * HTTP status, or 0 when curl got none.
 */
function request(url: string, extra: string[] = []): { status: number; error: string } {
    // -k: the question is whether the port answers at all without credentials, not whom it proves to be.
    const curl = ["curl", "-sS", "-k", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", ...extra, url];
    const r = extra.length > 0 ? sh(curl[0]!, curl.slice(1)) : sh("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...curl]);
    return { status: Number(r.stdout.trim() || "0"), error: r.status === 0 ? "" : r.stderr.trim() };
}
const refused = (r: { status: number; error: string }) => r.status === 0 || r.status === 401 || r.status === 403;

function ports(): { pid: number; port: number; address: string; component: string }[] {
    const pidDir = path.join(dir, "pids");
    const byPid = new Map<number, string>();
    for (const f of fs.readdirSync(pidDir)) byPid.set(Number(fs.readFileSync(path.join(pidDir, f), "utf8").trim()), f.replace(/\.pid$/, ""));
    const out: { pid: number; port: number; address: string; component: string }[] = [];
    for (const line of sh("ss", ["-Htlnp"]).stdout.split("\n")) {
        const local = line.trim().split(/\s+/)[3];
        for (const m of line.matchAll(/pid=(\d+)/g)) {
            const component = byPid.get(Number(m[1]));
            if (!component || !local) continue;
            const i = local.lastIndexOf(":");
            const address = local.slice(0, i).replace(/^\*$/, "0.0.0.0").replace(/^\[::\]$/, "0.0.0.0");
            out.push({ pid: Number(m[1]), port: Number(local.slice(i + 1)), address, component });
        }
    }
    return out;
}

beforeAll(() => {
    useToolchain();
    dir = path.join(cacheDir(), "clusters", realClusterName());
    // The snapshot is of the machine without the node: an earlier file's cluster goes first.
    if (fs.existsSync(dir)) clusterDown(realClusterName(), realClusterKubeconfig());
    sh("iptables", ["-t", "filter", "-N", FOREIGN_CHAIN]);
    sh("iptables", ["-t", "filter", "-A", FOREIGN_CHAIN, "-j", "RETURN"]);
    sh("iptables", ["-t", "filter", "-A", "INPUT", "-j", FOREIGN_CHAIN]);
    sh("iptables", ["-t", "nat", "-N", FOREIGN_CHAIN]);
    sh("ipset", ["create", FOREIGN_SET, "hash:ip"]);
    sh("ipset", ["add", FOREIGN_SET, "192.0.2.1"]);
    before = hostSnapshot();
    expect(before["iptables"]).toContain(`filter -A INPUT -j ${FOREIGN_CHAIN}`);
    expect(before["ipsets"]).toContain(`add ${FOREIGN_SET} 192.0.2.1`);
    cluster = realCluster();
    // A NetworkPolicy, so kube-router makes sets and per-policy chains too.
    sh(
        "kubectl",
        ["--kubeconfig", cluster.kubeconfig, "--context", cluster.context, "apply", "-f", "-"],
        JSON.stringify({
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: { name: "from-kube-system", namespace: REAL_NODE.ingressNamespace },
            spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }] }] },
        }),
    );
});

afterAll(() => {
    if (fs.existsSync(dir)) clusterDown(realClusterName(), realClusterKubeconfig());
    sh("iptables", ["-t", "filter", "-D", "INPUT", "-j", FOREIGN_CHAIN]);
    sh("iptables", ["-t", "filter", "-F", FOREIGN_CHAIN]);
    sh("iptables", ["-t", "filter", "-X", FOREIGN_CHAIN]);
    sh("iptables", ["-t", "nat", "-X", FOREIGN_CHAIN]);
    sh("ipset", ["destroy", FOREIGN_SET]);
});

describe("while the node runs, nothing on it answers without credentials", () => {
    it("etcd refuses plain HTTP, TLS without a certificate, and a certificate of the cluster's other CA", () => {
        const etcd = ports().filter((p) => p.component === "etcd");
        expect(etcd.length).toBe(2); // clients and peers
        const pki = path.join(dir, "pki");
        const withCert = (stem: string) => ["--cacert", path.join(pki, "etcd-ca.crt"), "--cert", path.join(pki, `${stem}.crt`), "--key", path.join(pki, `${stem}.key`)];
        for (const { port } of etcd) {
            expect(refused(request(`http://127.0.0.1:${port}/version`))).toBe(true);
            expect(refused(request(`https://127.0.0.1:${port}/version`))).toBe(true);
            // The admin's certificate opens the API server, not etcd.
            expect(request(`https://127.0.0.1:${port}/version`, withCert("admin")).status).toBe(0);
        }
        // The API server's etcd client certificate does open it: the refusals above are about credentials.
        const client = etcd.find((p) => request(`https://127.0.0.1:${p.port}/health`, withCert("apiserver-etcd-client")).status === 200);
        expect(client).toBeDefined();
    });

    it("the API server answers 401 to an anonymous request, health checks included", () => {
        const server = new URL(cluster.server);
        for (const p of ["/api/v1/namespaces/kube-system/secrets", "/healthz", "/readyz", "/version"]) {
            expect(request(`https://${server.host}${p}`).status, p).toBe(401);
        }
    });

    it("kubelet answers 401 on its port, and its read-only and plain health ports are closed", () => {
        for (const p of ["/pods", "/healthz", "/metrics", "/runningpods/"]) expect(request(`https://${REAL_NODE.nodeAddress}:10250${p}`).status, p).toBe(401);
        expect(request(`http://${REAL_NODE.nodeAddress}:10255/pods`).status).toBe(0);
        expect(request("http://127.0.0.1:10255/pods").status).toBe(0);
        expect(request("http://127.0.0.1:10248/healthz").status).toBe(0);
    });

    it("no port a node process listens on serves a local user without credentials", () => {
        const served: string[] = [];
        const listening = ports();
        expect(new Set(listening.map((p) => p.component))).toEqual(new Set(["etcd", "kube-apiserver", "containerd", "kubelet", "kube-proxy", "kube-router"]));
        for (const p of listening) {
            const host = p.address === "0.0.0.0" ? "127.0.0.1" : p.address;
            for (const scheme of ["http", "https"]) {
                for (const what of ["/", "/healthz", "/metrics", "/version", "/pods", "/api", "/configz"]) {
                    const r = request(`${scheme}://${host}:${p.port}${what}`);
                    if (r.status >= 200 && r.status < 400) served.push(`${p.component} ${scheme}://${p.address}:${p.port}${what} -> ${r.status}`);
                }
            }
        }
        expect(served).toEqual([]);
        // Nothing listens on every interface.
        expect(listening.filter((p) => p.address === "0.0.0.0").map((p) => `${p.component}:${p.port}`)).toEqual([]);
        // kube-proxy's metrics and kube-router's health, which need no credentials, answer root only.
        expect(sh("curl", ["-fsS", "-m", "5", "-o", "/dev/null", "http://127.0.0.1:20244/healthz"]).status).toBe(0);
        expect(sh("curl", ["-fsS", "-m", "5", "-o", "/dev/null", "http://127.0.0.1:10249/metrics"]).status).toBe(0);
    });
});

describe("while the node runs, the machine keeps its own settings", () => {
    it("kubelet's panic settings are put back at once: an oops does not reboot the machine", () => {
        const now = hostSnapshot()["sysctls"]!;
        for (const key of ["kernel.panic", "kernel.panic_on_oops", "vm.panic_on_oom"]) {
            expect(now.find((l) => l.startsWith(`${key} =`))).toBe(before["sysctls"]!.find((l) => l.startsWith(`${key} =`)));
        }
    });

    it("forwarded traffic only goes from the bridge to the bridge", () => {
        const rules = sh("iptables", ["-t", "mangle", "-S", "PROGRESSION-FORWARD"]).stdout;
        expect(rules).toContain("-A PROGRESSION-FORWARD -i progression0 -o progression0 -j RETURN");
        expect(rules).toMatch(/-A PROGRESSION-FORWARD -i progression0 .* -j DROP/);
        expect(rules).toMatch(/-A PROGRESSION-FORWARD -o progression0 .* -j DROP/);
        expect(sh("iptables", ["-t", "mangle", "-S", "FORWARD"]).stdout).toContain("-A FORWARD -j PROGRESSION-FORWARD");
    });

    it("the record of what the machine had is kept where a reboot does not remove it", () => {
        expect(fs.readFileSync(path.join(NODE_LIB, "node", "owner"), "utf8").split(" ")[0]).toBe(realClusterName());
        expect(fs.statSync(path.join(NODE_LIB, "node")).mode & 0o777).toBe(0o700);
        expect(fs.readFileSync(path.join(NODE_LIB, "node", "sysctls"), "utf8")).toMatch(/^kernel\.keys\.root_maxbytes=\d+$/m);
        expect(kubectlJson(cluster, ["get", "networkpolicy", "-A"]).items.length).toBeGreaterThan(0);
        expect(sh("ipset", ["list", "-n"]).stdout).toMatch(/^KUBE-(SRC|DST)-/m);
    });
});

describe("after teardown", () => {
    it("the machine's rules, sets, links, routes, mounts, cgroups and kernel settings are as they were, another cluster's chain and set included", () => {
        clusterDown(realClusterName(), realClusterKubeconfig());
        expect(diffSnapshots(before, hostSnapshot())).toEqual([]);
        expect(fs.existsSync(path.join(NODE_LIB, "node"))).toBe(false);
    });

    it("a second teardown changes nothing", () => {
        clusterDown(realClusterName(), realClusterKubeconfig());
        expect(diffSnapshots(before, hostSnapshot())).toEqual([]);
    });

    it("after a crash (every process killed, the cluster's files kept) teardown still undoes it all", () => {
        realCluster();
        const pids = fs.readdirSync(path.join(dir, "pids")).map((f) => Number(fs.readFileSync(path.join(dir, "pids", f), "utf8")));
        for (const pid of pids) process.kill(pid, "SIGKILL");
        clusterDown(realClusterName(), realClusterKubeconfig());
        expect(diffSnapshots(before, hostSnapshot())).toEqual([]);
    });

    it("after a reboot (the record of an earlier boot), teardown removes the node's files and leaves the kernel alone", () => {
        // What a reboot leaves: the record and the node's files on disk, none of its kernel state.
        // The record says nothing existed before and holds other sysctl values: neither may be acted on.
        const record = path.join(NODE_LIB, "node");
        fs.mkdirSync(record, { recursive: true, mode: 0o700 });
        fs.mkdirSync(path.join(NODE_LIB, "kubelet", "pods"), { recursive: true });
        fs.writeFileSync(path.join(record, "owner"), `${realClusterName()} ${dir}\n`);
        fs.writeFileSync(path.join(record, "boot"), "00000000-0000-0000-0000-000000000000\n");
        fs.writeFileSync(path.join(record, "sysctls"), "kernel.panic=0\nnet.ipv4.ip_forward=1\n");
        for (const f of ["chains", "sets", "present"]) fs.writeFileSync(path.join(record, f), "");
        clusterDown(realClusterName(), realClusterKubeconfig());
        expect(diffSnapshots(before, hostSnapshot())).toEqual([]);
        expect(fs.existsSync(record)).toBe(false);
        expect(fs.existsSync(path.join(NODE_LIB, "kubelet"))).toBe(false);
    });

    it("--purge also removes the node's data: containerd's images and content", () => {
        expect(fs.existsSync(path.join(NODE_LIB, "containerd"))).toBe(true);
        clusterDown(realClusterName(), realClusterKubeconfig(), { purge: true });
        expect(fs.existsSync(NODE_LIB)).toBe(false);
        expect(diffSnapshots(before, hostSnapshot())).toEqual([]);
    });
});
