// `progression netcheck` as a user runs it: a subprocess of bin/progression, judged by exit code
// and output. The live-cluster source is exercised against a loopback HTTPS server that demands
// a client certificate, as an API server does.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { main } from "../../cli/main";

const REPO = path.resolve(__dirname, "../..");
const GOOD = "tests/fixtures/netpol/good";
const SEED = "tests/fixtures/netpol/seed";

interface Result {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** Runs bin/progression asynchronously, so a server in this process can answer it. */
function progression(args: string[]): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(REPO, "bin/progression"), ...args], { cwd: REPO, env: process.env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

/** The dispatcher in this process, for cases where starting Node each time would only cost time. */
async function inProcess(args: string[]): Promise<Result> {
    const out = { stdout: "", stderr: "" };
    const originals = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
    process.stdout.write = (chunk: string | Uint8Array) => ((out.stdout += chunk.toString()), true);
    process.stderr.write = (chunk: string | Uint8Array) => ((out.stderr += chunk.toString()), true);
    try {
        const code = await main(args);
        return { code, ...out };
    } finally {
        process.stdout.write = originals.stdout;
        process.stderr.write = originals.stderr;
    }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "netcheck-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Each case is its own process: run them side by side.
// In turn: most cases run the dispatcher in this process (its stdout is captured), which is what
// they are about; the first two start the command as a user does.
describe("progression netcheck --manifests", () => {
    it("exits 0 on the good fixture, printing the matrix and what the verdicts are", async () => {
        const r = await progression(["netcheck", "--manifests", GOOD]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`NetworkPolicy connectivity from manifests in ${GOOD}`);
        expect(r.stdout).toMatch(/app: TCP 8080\nfrom \\ to +1 +2 +3 +4 +5 +6\n +1 dev\/web \[dev\] +- +deny +deny +deny +deny +deny/);
        expect(r.stdout).toContain("OK: the dev, staging, prod environments are isolated from each other");
        expect(r.stdout).toContain("not a probe of live traffic");
    });

    it("exits 1 on the seed fixture, naming both flaws", async () => {
        const r = await progression(["netcheck", "--manifests", SEED]);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain("FAILED: 7 findings:");
        expect(r.stdout).toContain(
            "[spoof-admitted] namespace attacker, which copies prod's labels (environment=prod) but is no environment, is admitted to prod/web (prod)",
        );
        expect(r.stdout).toContain("[dns-blocked] prod/web (prod) cannot reach DNS at kube-system/kube-dns on UDP 53 (dns-udp), TCP 53 (dns-tcp)");
        expect(r.stdout).toContain("[ingress-blocked] the ingress controller ingress-nginx/controller cannot reach prod/web (prod)");
    });

    it("--json gives counts and findings, without the matrix", async () => {
        const r = await inProcess(["netcheck", "--manifests", SEED, "--json"]);
        expect(r.code).toBe(1);
        const report = JSON.parse(r.stdout) as { cells?: unknown; findingCount: number; counts: Record<string, { connections: number; findings: number }> };
        expect(report.cells).toBeUndefined();
        expect(report.findingCount).toBe(7);
        expect(report.counts["dns-blocked"]).toEqual({ connections: 6, findings: 3 });
    });

    it("--json --matrix gives every cell as data", async () => {
        const r = await inProcess(["netcheck", "--manifests", SEED, "--json", "--matrix"]);
        expect(r.code).toBe(1);
        const report = JSON.parse(r.stdout) as {
            ok: boolean;
            cells: { from: string; to: string; probe: string; allowed: boolean; ingress: { allowedBy: unknown[] } }[];
            findings: { kind: string }[];
            semantics: string;
        };
        expect(report.ok).toBe(false);
        expect(report.cells).toHaveLength(6 * 5 * 3);
        expect(report.findings.map((f) => f.kind).sort()).toEqual([
            "dns-blocked",
            "dns-blocked",
            "dns-blocked",
            "ingress-blocked",
            "ingress-blocked",
            "ingress-blocked",
            "spoof-admitted",
        ]);
        const spoof = report.cells.find((c) => c.from === "attacker/web" && c.to === "prod/web" && c.probe === "app");
        expect(spoof?.allowed).toBe(true);
        expect(spoof?.ingress.allowedBy).toEqual([{ policy: "prod/deny-cross-env", direction: "ingress", rule: 0 }]);
        expect(report.semantics).toContain("not a probe of live traffic");
    });

    it("--ingress-namespace names another controller: the good policies then shut it out (exit 1)", async () => {
        const r = await inProcess(["netcheck", "--manifests", GOOD, "--ingress-namespace", "traefik"]);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain("[ingress-blocked] the ingress controller traefik/controller cannot reach dev/web (dev)");
    });

    it("exits 1 with every problem when a policy would be rejected by the API server", async () => {
        const dir = path.join(tmp, "invalid");
        fs.mkdirSync(dir);
        fs.copyFileSync(path.join(REPO, GOOD, "00-namespaces.yaml"), path.join(dir, "00-namespaces.yaml"));
        fs.writeFileSync(
            path.join(dir, "policy.yaml"),
            stringify({
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "typo", namespace: "prod" },
                spec: { podSelector: {}, ingress: [{ from: [{ namespaceSelectr: {} }] }] },
            }),
        );
        const r = await inProcess(["netcheck", "--manifests", dir]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("NetworkPolicy prod/typo.spec.ingress[0].from[0]: unknown field 'namespaceSelectr'");
        expect(r.stderr).toContain("until the API server accepts them they isolate nothing");
    });

    it("exits 2 on usage and input errors, with the fix", async () => {
        const both = await inProcess(["netcheck", "--manifests", GOOD, "--stack", "dev"]);
        expect(both.code).toBe(2);
        expect(both.stderr).toContain("give one source, not --manifests and --stack");
        const missing = await inProcess(["netcheck", "--manifests", "does/not/exist"]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toContain("--manifests 'does/not/exist': no such file or directory");
        const badYaml = path.join(tmp, "bad.yaml");
        fs.writeFileSync(badYaml, "kind: Namespace\nmetadata: {name: [\n");
        const yamlErr = await inProcess(["netcheck", "--manifests", badYaml]);
        expect(yamlErr.code).toBe(2);
        expect(yamlErr.stderr).toMatch(/bad\.yaml:\d+:\d+: not valid YAML/);
        const noEnv = await inProcess(["netcheck", "--manifests", path.join(REPO, GOOD, "10-app.yaml")]);
        expect(noEnv.code).toBe(2);
        expect(noEnv.stderr).toContain("no Namespace with an 'environment' label was found");
    });
});

describe("progression netcheck --stack", () => {
    it("evaluates the program's own policies for a stack (exit 0 when they isolate)", async () => {
        const r = await progression(["netcheck", "--stack", "prod"]);
        expect(r.stderr).toBe("");
        expect(r.stdout).toContain("from the program's manifests for stack prod");
        expect(r.code).toBe(0);
    });

    it("names the known stacks for an unknown one", async () => {
        const r = await inProcess(["netcheck", "--stack", "qa"]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/--stack 'qa': no Pulumi\.qa\.yaml; known stacks: .*dev/);
    });
});

describe("progression netcheck --kubeconfig", () => {
    let server: https.Server;
    let kubeconfig: string;
    const requested: string[] = [];

    beforeAll(async () => {
        // A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, as kwok makes.
        const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: tmp, stdio: "pipe" });
        const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=netcheck-test-ca");
        fs.writeFileSync(path.join(tmp, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
        for (const [name, subject, ext] of [
            ["server", "/CN=127.0.0.1", ["-extfile", "san.ext"]],
            ["client", "/O=system:masters/CN=admin", []],
        ] as const) {
            ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
            ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", ...ext);
        }
        const read = (f: string) => fs.readFileSync(path.join(tmp, f));
        const objects = fs
            .readdirSync(path.join(REPO, GOOD))
            .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(REPO, GOOD, f), "utf8")).map((d) => d.toJS() as Record<string, unknown>));
        const list = (kind: string) =>
            JSON.stringify({
                kind: `${kind}List`,
                apiVersion: "v1",
                items: objects.filter((o) => o["kind"] === kind).map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
            });
        const routes: Record<string, string> = {
            "/api/v1/namespaces": list("Namespace"),
            "/apis/networking.k8s.io/v1/networkpolicies": list("NetworkPolicy"),
            "/apis/apps/v1/deployments": list("Deployment"),
            "/api/v1/services": list("Service"),
        };
        server = https.createServer(
            { key: read("server.key"), cert: read("server.crt"), ca: read("ca.crt"), requestCert: true, rejectUnauthorized: true },
            (req, res) => {
                requested.push(req.url ?? "");
                const body = routes[req.url ?? ""];
                res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
                res.end(body ?? JSON.stringify({ kind: "Status", message: "not found" }));
            },
        );
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        const b64 = (f: string) => read(f).toString("base64");
        kubeconfig = path.join(tmp, "kubeconfig");
        fs.writeFileSync(
            kubeconfig,
            stringify({
                apiVersion: "v1",
                kind: "Config",
                "current-context": "test",
                clusters: [{ name: "test", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": b64("ca.crt") } }],
                // Files, relative to the kubeconfig, as kwokctl writes them.
                users: [{ name: "admin", user: { "client-certificate": "client.crt", "client-key": "client.key" } }],
                contexts: [{ name: "test", context: { cluster: "test", user: "admin" } }],
            }),
        );
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("reads the policies from the API server with the kubeconfig's client certificate", async () => {
        const r = await progression(["netcheck", "--kubeconfig", kubeconfig]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/NetworkPolicy connectivity from the policies stored in the API server at https:\/\/127\.0\.0\.1:\d+/);
        expect(r.stdout).toContain("not a probe of live traffic");
        expect([...requested].sort()).toEqual([
            "/api/v1/namespaces",
            "/api/v1/services",
            "/apis/apps/v1/deployments",
            "/apis/networking.k8s.io/v1/networkpolicies",
        ]);
    });

    /** The test kubeconfig with its cluster and user entries changed. */
    const variant = (name: string, cluster: Record<string, unknown>, user?: Record<string, unknown>): string => {
        const doc = parseAllDocuments(fs.readFileSync(kubeconfig, "utf8"))[0]!.toJS() as {
            clusters: { cluster: Record<string, unknown> }[];
            users: { user: Record<string, unknown> }[];
        };
        doc.clusters[0]!.cluster = { ...doc.clusters[0]!.cluster, ...cluster };
        if (user) doc.users[0]!.user = user;
        const file = path.join(tmp, name);
        fs.writeFileSync(file, stringify(doc));
        return file;
    };

    it.each([
        ["not a URL", "127.0.0.1 port 6443", /has server "127\.0\.0\.1 port 6443", which is not a URL; fix: set it to the API server's address/],
        ["not http(s)", "ftp://127.0.0.1:6443", /has server "ftp:\/\/127\.0\.0\.1:6443", which is not an http\(s\) URL; fix:/],
    ])("a server that is %s is an error with the fix, not a stack trace", async (_what, server, message) => {
        const r = await inProcess(["netcheck", "--kubeconfig", variant(`server-${server.length}`, { server })]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    it("a tokenFile that does not exist is an error naming it", async () => {
        const r = await inProcess(["netcheck", "--kubeconfig", variant("token-kubeconfig", {}, { tokenFile: "missing-token" })]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(
            `user 'admin' has tokenFile '${path.join(tmp, "missing-token")}', which cannot be read (ENOENT); fix: point tokenFile at the token's file, or set token`,
        );
    });

    it("a certificate no CA of the kubeconfig signed points at certificate-authority, not at Node's flags", async () => {
        const r = await inProcess(["netcheck", "--kubeconfig", variant("no-ca-kubeconfig", { "certificate-authority-data": undefined })]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain("the API server's certificate is not signed by a CA this kubeconfig trusts; fix: set the cluster's certificate-authority");
        expect(r.stderr).toContain("(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain)");
        expect(r.stderr).not.toContain("use-system-ca");
    });

    it("a server that drips a byte every 200 ms is given up at --timeout, with the reason", async () => {
        const drip = http.createServer((_req, res) => {
            res.writeHead(200, { "content-type": "application/json" });
            const timer = setInterval(() => res.write(" "), 200);
            res.on("close", () => clearInterval(timer));
        });
        await new Promise<void>((resolve) => drip.listen(0, "127.0.0.1", resolve));
        try {
            const file = variant("drip-kubeconfig", { server: `http://127.0.0.1:${(drip.address() as AddressInfo).port}` });
            const started = Date.now();
            const r = await inProcess(["netcheck", "--kubeconfig", file, "--timeout", "1s"]);
            expect(r.code).toBe(2);
            expect(r.stderr).toMatch(/cannot read http:\/\/127\.0\.0\.1:\d+\/\S+ \(context 'test'\): no complete answer within 1s/);
            expect(Date.now() - started).toBeLessThan(5_000);
        } finally {
            drip.closeAllConnections();
            await new Promise((resolve) => drip.close(resolve));
        }
    });

    it("refuses to send a bearer token over plain http, even to a loopback server, and sends nothing", async () => {
        const seenAuth: (string | undefined)[] = [];
        const plain = http.createServer((req, res) => {
            seenAuth.push(req.headers.authorization);
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ kind: "List", items: [] }));
        });
        await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
        try {
            const server = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
            const file = variant("http-token-kubeconfig", { server }, { token: "s3cret-bearer-token" });
            const r = await inProcess(["netcheck", "--kubeconfig", file]);
            expect(r.code).toBe(2);
            expect(r.stderr).toBe(
                `progression netcheck: --kubeconfig '${file}': cluster 'test' has server ${server}, plain http, and user 'admin' has a token, which would travel in clear text. ` +
                    "Allowed: a token over https only. Fix: set the cluster's server to its https:// address\n",
            );
            expect(seenAuth).toEqual([]);
        } finally {
            plain.closeAllConnections();
            await new Promise((resolve) => plain.close(resolve));
        }
    });

    it("exits 2 with a clear message when the server is unreachable or the context unknown", async () => {
        const dead = path.join(tmp, "dead-kubeconfig");
        fs.writeFileSync(dead, fs.readFileSync(kubeconfig, "utf8").replace(/127\.0\.0\.1:\d+/, "127.0.0.1:1"));
        const r = await inProcess(["netcheck", "--kubeconfig", dead]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/cannot read https:\/\/127\.0\.0\.1:1\/.* \(context 'test'\): ECONNREFUSED .*is the cluster running/);
        const ctx = await inProcess(["netcheck", "--kubeconfig", kubeconfig, "--context", "nope"]);
        expect(ctx.code).toBe(2);
        expect(ctx.stderr).toContain("context 'nope' not found");
    });
});

describe("progression netcheck --manifests: inputs that used to crash", () => {
    it("a broken symbolic link in the directory is named, with the fix", async () => {
        const dir = path.join(tmp, "dangling");
        fs.mkdirSync(dir);
        fs.copyFileSync(path.join(REPO, GOOD, "00-namespaces.yaml"), path.join(dir, "00-namespaces.yaml"));
        fs.symlinkSync(path.join(tmp, "gone.yaml"), path.join(dir, "10-app.yaml"));
        const r = await inProcess(["netcheck", "--manifests", dir]);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
            `progression netcheck: --manifests: '${path.join(dir, "10-app.yaml")}' is a symbolic link to '${path.join(tmp, "gone.yaml")}', which does not exist; fix: restore its target or remove the link\n`,
        );
    });

    it("1,000 namespaces print a bounded summary, not a matrix", async () => {
        const { writeScaledManifests } = await import("../../bench/netcheck-fixture");
        const dir = path.join(tmp, "thousand");
        writeScaledManifests(dir, { namespaces: 1000, workloadsPerNamespace: 1 });
        const r = await inProcess(["netcheck", "--manifests", dir]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout.length).toBeLessThan(8_000);
        expect(r.stdout).toContain("The full matrix (3,015,018 cells) is not printed; --matrix prints it.");
    });

    it("a named port no container declares is warned about by name", async () => {
        const dir = path.join(tmp, "htpp");
        fs.mkdirSync(dir);
        for (const f of fs.readdirSync(path.join(REPO, GOOD))) fs.copyFileSync(path.join(REPO, GOOD, f), path.join(dir, f));
        fs.writeFileSync(
            path.join(dir, "30-typo.yaml"),
            stringify({
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "allow-web", namespace: "prod" },
                spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: "htpp" }] }] },
            }),
        );
        const r = await inProcess(["netcheck", "--manifests", dir]);
        expect(r.stdout).toContain(
            'NetworkPolicy prod/allow-web: ingress[0].ports[0] names port "htpp", but no container of the pods it selects (prod/web) declares a port of that name',
        );
    });
});
