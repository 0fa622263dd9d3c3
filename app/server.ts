// The reference app the smoke checks target: no dependencies, one file, so Node >= 23.6 runs it
// as is (`node app/server.ts`, types stripped) in the container and `tsx` runs it locally.
//
//   node app/server.ts [--port 8080] [--host 127.0.0.1] [--fail db,action,healthz,version]
//                      [--healthy-after 5s] [--delay 200ms] [--version 1.2.3]
// Each flag has an env var twin: PORT, HOST, FAIL, HEALTHY_AFTER, DELAY, APP_VERSION.
// `--port 0` picks a free port; the first stdout line is always
// `listening on http://HOST:PORT`, for scripts and tests that start it in the background.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

const FAILURES = ["db", "action", "healthz", "version"] as const;
type Failure = (typeof FAILURES)[number];

interface Settings {
    port: number;
    host: string;
    fail: Set<Failure>;
    healthyAfterMs: number;
    delayMs: number;
    version: string;
}

function die(message: string): never {
    process.stderr.write(`app: ${message}\n`);
    process.exit(2);
}

function duration(name: string, value: string): number {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
    if (!m) die(`${name} '${value}' is not a duration; use e.g. 500ms, 5s, 1m`);
    const unit = m[2] ?? "ms";
    return Math.round(Number(m[1]) * (unit === "m" ? 60_000 : unit === "s" ? 1000 : 1));
}

function settings(argv: string[]): Settings {
    const flags = new Map<string, string>();
    for (let i = 0; i < argv.length; i += 1) {
        const arg = argv[i]!;
        const eq = arg.indexOf("=");
        const [name, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
        if (!["--port", "--host", "--fail", "--healthy-after", "--delay", "--version"].includes(name)) {
            die(`unknown argument '${arg}'; allowed: --port, --host, --fail, --healthy-after, --delay, --version`);
        }
        const value = inline ?? argv[++i];
        if (value === undefined) die(`${name} needs a value`);
        flags.set(name, value);
    }
    const get = (flag: string, env: string) => flags.get(flag) ?? process.env[env];

    const portText = get("--port", "PORT") ?? "8080";
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) die(`port '${portText}' is not 0-65535`);

    const fail = new Set<Failure>();
    for (const f of (get("--fail", "FAIL") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        if (!(FAILURES as readonly string[]).includes(f)) die(`--fail '${f}' is not a failure mode; allowed: ${FAILURES.join(", ")}`);
        fail.add(f as Failure);
    }
    const healthyAfter = get("--healthy-after", "HEALTHY_AFTER");
    const delay = get("--delay", "DELAY");
    return {
        port,
        host: get("--host", "HOST") ?? "127.0.0.1",
        fail,
        healthyAfterMs: healthyAfter ? duration("--healthy-after", healthyAfter) : 0,
        delayMs: delay ? duration("--delay", delay) : 0,
        version: get("--version", "APP_VERSION") ?? "0.1.0",
    };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
        ...headers,
    });
    res.end(text);
}

const MAX_REQUEST_BODY = 16 * 1024;

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
        let size = 0;
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REQUEST_BODY) {
                resolve(undefined);
                req.destroy();
                return;
            }
            chunks.push(chunk);
        });
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

function main(): void {
    const s = settings(process.argv.slice(2));
    const startedAt = Date.now();
    let actions = 0;

    const server = http.createServer((req, res) => {
        // Under /preview the same routes answer: where pods are simulated, one host process stands
        // in for both the preview route (the candidate) and the live route.
        const route = (req.url ?? "/").split("?")[0]!.replace(/^\/preview(?=\/)/, "");
        const handle = async () => {
            if (s.delayMs > 0) await new Promise((r) => setTimeout(r, s.delayMs));
            const warming = Date.now() - startedAt < s.healthyAfterMs;
            const onlyGet = () => {
                if (req.method === "GET" || req.method === "HEAD") return false;
                send(res, 405, { error: `method ${req.method} not allowed` }, { allow: "GET, HEAD" });
                return true;
            };
            switch (route) {
                case "/healthz":
                    if (onlyGet()) return;
                    if (warming) return send(res, 503, { status: "starting" });
                    if (s.fail.has("healthz")) return send(res, 500, { status: "broken" });
                    return send(res, 200, { status: "ok" });
                case "/api/version":
                    if (onlyGet()) return;
                    if (warming) return send(res, 503, { error: "starting" });
                    return send(res, 200, s.fail.has("version") ? { name: "app" } : { name: "app", version: s.version });
                case "/api/db-status":
                    if (onlyGet()) return;
                    if (warming) return send(res, 503, { connected: false, error: "starting" });
                    return send(res, 200, s.fail.has("db") ? { connected: false, error: "database unreachable" } : { connected: true });
                case "/api/test-action": {
                    if (req.method !== "POST") return send(res, 405, { success: false, error: "POST only" }, { allow: "POST" });
                    const text = await readBody(req);
                    if (text === undefined) return send(res, 413, { success: false, error: `body over ${MAX_REQUEST_BODY} bytes` });
                    let body: unknown;
                    try {
                        body = JSON.parse(text);
                    } catch {
                        return send(res, 400, { success: false, error: "body is not JSON" });
                    }
                    if (warming) return send(res, 503, { success: false, error: "starting" });
                    if (s.fail.has("action")) return send(res, 200, { success: false, error: "action failed" });
                    actions += 1;
                    return send(res, 200, { success: true, received: body, actions });
                }
                default:
                    return send(res, 404, { error: `no route ${route}` });
            }
        };
        handle().catch((err: unknown) => {
            if (!res.headersSent) send(res, 500, { error: String(err) });
            else res.destroy();
        });
    });

    server.listen(s.port, s.host, () => {
        const { port } = server.address() as AddressInfo;
        const host = s.host.includes(":") ? `[${s.host}]` : s.host;
        const modes = [...s.fail].join(",") || "none";
        process.stdout.write(`listening on http://${host}:${port} (version ${s.version}, fail ${modes}, healthy after ${s.healthyAfterMs} ms)\n`);
    });
    server.on("error", (err) => die(`cannot listen on ${s.host}:${s.port}: ${err.message}`));

    // Kubernetes sends SIGTERM; finish in-flight requests, then exit.
    const stop = () => {
        server.close(() => process.exit(0));
        server.closeIdleConnections();
        setTimeout(() => process.exit(0), 5_000).unref();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

main();
