// `progression smoke` and `progression netcheck` from process start: to the first request the
// app (or API server) sees, and to exit. The servers run in this process on 127.0.0.1 and note
// the time of the first request; the clock starts just before spawn.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";

export const REPO = path.resolve(__dirname, "..");

export interface StartTiming {
    /** Process start to the first request served, ms. */
    readonly firstRequestMs: number;
    /** Process start to exit, ms. */
    readonly exitMs: number;
    readonly code: number | null;
}

/** A server answering the default smoke checks, and a minimal API server list for netcheck. */
function serve(): Promise<{ url: string; firstAt: () => number | undefined; reset: () => void; close: () => Promise<void> }> {
    let first: number | undefined;
    const emptyList = (kind: string) => JSON.stringify({ kind, apiVersion: "v1", items: [] });
    const namespaces = JSON.stringify({
        kind: "NamespaceList",
        apiVersion: "v1",
        items: ["dev", "staging", "prod"].map((env) => ({ metadata: { name: env, labels: { environment: env } } })),
    });
    const routes: Record<string, string> = {
        "/healthz": JSON.stringify({ status: "ok" }),
        "/api/version": JSON.stringify({ version: "1.0.0" }),
        "/api/db-status": JSON.stringify({ connected: true }),
        "/api/test-action": JSON.stringify({ success: true }),
        "/api/v1/namespaces": namespaces,
        "/apis/networking.k8s.io/v1/networkpolicies": emptyList("NetworkPolicyList"),
        "/apis/apps/v1/deployments": emptyList("DeploymentList"),
        "/api/v1/services": emptyList("ServiceList"),
    };
    const server = http.createServer((req, res) => {
        first ??= performance.now();
        req.resume();
        const body = routes[(req.url ?? "/").split("?")[0]!];
        res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
        res.end(body ?? "{}");
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () =>
            resolve({
                url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
                firstAt: () => first,
                reset: () => (first = undefined),
                close: () => new Promise<void>((r) => server.close(() => r())),
            }),
        ),
    );
}

function run(repo: string, args: string[], env: NodeJS.ProcessEnv, firstAt: () => number | undefined): Promise<StartTiming> {
    return new Promise((resolve, reject) => {
        const t0 = performance.now();
        const child = spawn(process.execPath, [path.join(repo, "bin", "progression"), ...args], { cwd: repo, env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => {
            const exitMs = performance.now() - t0;
            const first = firstAt();
            if (first === undefined) return reject(new Error(`progression ${args.join(" ")} made no request (exit ${code}): ${stderr}`));
            resolve({ firstRequestMs: first - t0, exitMs, code });
        });
    });
}

/** One timed run of each command; `kubeconfig` is written by the caller for netcheck. */
export async function timeCliStart(kubeconfigFor: (server: string) => string, repo = REPO): Promise<{ smoke: StartTiming; netcheck: StartTiming }> {
    const server = await serve();
    try {
        const env = { ...process.env };
        server.reset();
        const smoke = await run(repo, ["smoke", server.url, "--passes", "1"], env, server.firstAt);
        server.reset();
        const netcheck = await run(repo, ["netcheck", "--kubeconfig", kubeconfigFor(server.url)], env, server.firstAt);
        return { smoke, netcheck };
    } finally {
        await server.close();
    }
}

/** A kubeconfig pointing at `server` (plain http, so a user without credentials: netcheck refuses a token in clear text), written into `dir`. */
export function kubeconfigIn(dir: string): (server: string) => string {
    return (server) => {
        const file = path.join(dir, "kubeconfig");
        fs.writeFileSync(
            file,
            `apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters: [{name: b, cluster: {server: "${server}"}}]\nusers: [{name: b, user: {}}]\ncontexts: [{name: b, context: {cluster: b, user: b}}]\n`,
        );
        return file;
    };
}

if (require.main === module) {
    void (async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-cli-"));
        const kubeconfigFor = kubeconfigIn(dir);
        const runs = Number(process.argv[2] ?? 5);
        for (let i = 0; i < runs; i++) {
            const t = await timeCliStart(kubeconfigFor);
            process.stdout.write(
                `smoke first request ${t.smoke.firstRequestMs.toFixed(0)} ms, exit ${t.smoke.exitMs.toFixed(0)} ms (code ${t.smoke.code}); ` +
                    `netcheck first request ${t.netcheck.firstRequestMs.toFixed(0)} ms, exit ${t.netcheck.exitMs.toFixed(0)} ms (code ${t.netcheck.code})\n`,
            );
        }
        fs.rmSync(dir, { recursive: true, force: true });
    })();
}
