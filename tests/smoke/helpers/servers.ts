// Real local servers for the smoke tests: plain HTTP or HTTPS on 127.0.0.1, one handler per
// path, and a per-path hit counter. No HTTP mocking anywhere.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo, LookupFunction, Socket } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { TLSSocket } from "node:tls";

export const REPO = path.resolve(__dirname, "..", "..", "..");

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void;

export interface TestServer {
    readonly url: string;
    readonly port: number;
    /** Requests seen per path. */
    readonly hits: Map<string, number>;
    /** Request bodies seen per path. */
    readonly bodies: Map<string, string[]>;
    /**
     * Connections accepted (TCP, or TLS once the handshake is done), the `connection` header of
     * each request, and for TLS how many handshakes resumed an earlier session.
     */
    readonly connections: { accepted: number; resumed: number; readonly headers: (string | undefined)[] };
    close(): Promise<void>;
}

export function json(res: http.ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
    res.end(text);
}

/** The four endpoints of a healthy app, as the default checks expect them. */
export function healthyRoutes(): Record<string, Handler> {
    return {
        "/healthz": (_q, res) => json(res, 200, { status: "ok" }),
        "/api/version": (_q, res) => json(res, 200, { version: "1.2.3" }),
        "/api/db-status": (_q, res) => json(res, 200, { connected: true }),
        "/api/test-action": (req, res) => {
            if (req.method !== "POST") return json(res, 405, { success: false });
            return json(res, 200, { success: true });
        },
    };
}

export async function startServer(routes: Record<string, Handler>, tls?: { key: string; cert: string }): Promise<TestServer> {
    const hits = new Map<string, number>();
    const bodies = new Map<string, string[]>();
    const connections = { accepted: 0, resumed: 0, headers: [] as (string | undefined)[] };
    const listener: http.RequestListener = (req, res) => {
        connections.headers.push(req.headers.connection);
        const p = (req.url ?? "/").split("?")[0]!;
        const n = (hits.get(p) ?? 0) + 1;
        hits.set(p, n);
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            bodies.set(p, [...(bodies.get(p) ?? []), Buffer.concat(chunks).toString("utf8")]);
            const handler = routes[p];
            if (!handler) return json(res, 404, { error: "no route" });
            handler(req, res, n);
        });
    };
    const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
    // TLS handshake failures are the point of some tests; keep them off stderr.
    server.on("tlsClientError", () => undefined);
    server.on(tls ? "secureConnection" : "connection", (socket: TLSSocket | Socket) => {
        connections.accepted += 1;
        if ("isSessionReused" in socket && socket.isSessionReused()) connections.resumed += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
        port,
        hits,
        bodies,
        connections,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
    const s = http.createServer();
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
}

/** A DNS resolver for tests: known names map to an address, anything else is ENOTFOUND. */
export function fakeLookup(table: Record<string, string>, calls: string[] = []): LookupFunction {
    return (hostname, options, callback) => {
        calls.push(hostname);
        const address = table[hostname];
        if (address === undefined) {
            const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname });
            callback(err, "", 4);
            return;
        }
        if (options.all) callback(null, [{ address, family: 4 }]);
        else callback(null, address, 4);
    };
}

export interface Pki {
    readonly dir: string;
    readonly caPem: string;
    /** Signed by the CA for localhost, 127.0.0.1 and app.test. */
    readonly valid: { key: string; cert: string };
    /** Signed by the CA for other.example only. */
    readonly wrongHost: { key: string; cert: string };
    /** Signed by the CA for 127.0.0.1, valid 2020-01-01 to 2020-01-02. */
    readonly expired: { key: string; cert: string };
    /** Self-signed for 127.0.0.1 (no CA). */
    readonly selfSigned: { key: string; cert: string };
    cleanup(): void;
}

/** Makes a throwaway CA and leaf certificates with the openssl CLI (node:crypto cannot sign). */
export function makePki(): Pki {
    const dir = mkdtempSync(path.join(tmpdir(), "smoke-pki-"));
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

    ssl(
        "req",
        "-x509",
        ...ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=smoke test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    );

    const leaf = (name: string, san: string, dates?: [string, string]) => {
        ssl("req", "-new", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
        writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
        if (dates) {
            // Only `openssl ca` can back-date a certificate on OpenSSL 3.0.
            writeFileSync(path.join(dir, "index.txt"), "");
            writeFileSync(path.join(dir, "serial"), "1000\n");
            writeFileSync(
                path.join(dir, "ca.cnf"),
                "[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n",
            );
            ssl(
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                `${name}.csr`,
                "-out",
                `${name}.pem`,
                "-startdate",
                dates[0],
                "-enddate",
                dates[1],
                "-extfile",
                `${name}.ext`,
                "-notext",
            );
        } else {
            ssl(
                "x509",
                "-req",
                "-in",
                `${name}.csr`,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                `${name}.ext`,
                "-out",
                `${name}.pem`,
            );
        }
        return { key: read(`${name}.key`), cert: read(`${name}.pem`) };
    };

    const valid = leaf("valid", "DNS:localhost,DNS:app.test,IP:127.0.0.1");
    const wrongHost = leaf("wrong", "DNS:other.example");
    const expired = leaf("expired", "DNS:localhost,IP:127.0.0.1", ["20200101000000Z", "20200102000000Z"]);
    ssl(
        "req",
        "-x509",
        ...ec,
        "-keyout",
        "self.key",
        "-out",
        "self.pem",
        "-days",
        "2",
        "-subj",
        "/CN=self",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    );
    return {
        dir,
        caPem: read("ca.pem"),
        valid,
        wrongHost,
        expired,
        selfSigned: { key: read("self.key"), cert: read("self.pem") },
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
}

export interface RunningApp {
    readonly url: string;
    readonly child: ChildProcess;
    stop(): Promise<number | null>;
}

/** Starts app/server.ts with the Node running the tests (>= 23.6 strips the types itself). */
export async function startApp(args: string[] = [], env: Record<string, string> = {}): Promise<RunningApp> {
    const child = spawn(process.execPath, [path.join(REPO, "app", "server.ts"), "--port", "0", ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => {
            // A server that never said it listens must not outlive the test run.
            child.kill("SIGKILL");
            reject(new Error(`app did not start within 10 s; stderr: ${stderr}`));
        }, 10_000);
        child.stdout.on("data", (c: Buffer) => {
            out += c.toString();
            const m = /listening on (http:\/\/\S+)/.exec(out);
            if (m?.[1]) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        });
        child.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`app exited with ${code} before listening; stderr: ${stderr}`));
        });
    });
    return {
        url,
        child,
        stop: () =>
            new Promise((resolve) => {
                if (child.exitCode !== null) return resolve(child.exitCode);
                child.once("exit", (code) => resolve(code));
                child.kill("SIGTERM");
            }),
    };
}
