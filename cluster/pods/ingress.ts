// The local cluster's ingress: a small reverse proxy that runs as a pod in the ingress
// controller's namespace, so a request to an app takes the path real traffic takes: into the
// cluster through the ingress, to the app's Service by its cluster DNS name (CoreDNS), through
// kube-proxy to a pod, admitted or refused by the app's NetworkPolicies.
//
//   http://<ingress>/<namespace>/<service>:<port>/<path>  ->  http://<service>.<namespace>.svc.cluster.local:<port>/<path>
//
// The host reaches it at its Service's fixed cluster IP, so a smoke base URL looks like
// http://198.19.0.80/web-staging/web:8080. Runs on Node >= 23.6 as is (types stripped).
import * as http from "node:http";

const PORT = Number(process.env["PORT"] ?? "8080");
// All interfaces inside the pod; HOST=127.0.0.1 to try it on a workstation.
const HOST = process.env["HOST"] ?? "0.0.0.0";
const UPSTREAM_TIMEOUT_MS = 10_000;
/** Tries of a request whose upstream connection failed before it was established, and the pause between them. */
const CONNECT_TRIES = 3;
const RETRY_PAUSE_MS = 100;
/**
 * How long one try may take to connect (the Service's DNS name resolved, the TCP handshake done).
 * On the node's bridge that takes a millisecond. A Service whose endpoints kube-proxy has not
 * programmed yet (a Service just created, or just pointed at new pods) is not translated, so the
 * connection waits on an ARP query for the Service address that fails only after 3 s: the try is
 * given up sooner and made again, by when kube-proxy has usually caught up.
 */
const CONNECT_TIMEOUT_MS = 500;
const LABEL = "[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?";
const ROUTE = new RegExp(`^/(${LABEL})/(${LABEL}):(\\d{1,5})(/[^?#]*)?(\\?.*)?$`);
// Headers that describe one connection, not the message: never forwarded.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"]);

function reply(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
    res.end(text);
}

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
    return out;
}

const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/healthz") return reply(res, 200, { status: "ok" });
    const m = ROUTE.exec(url);
    if (!m) return reply(res, 404, { error: `no route for ${url.slice(0, 200)}; use /<namespace>/<service>:<port>/<path>` });
    const [, namespace, service, portText, path, query] = m;
    const port = Number(portText);
    if (port < 1 || port > 65535) return reply(res, 400, { error: `port ${portText} is not 1-65535` });
    const host = `${service}.${namespace}.svc.cluster.local`;
    const prefix = `/${namespace}/${service}:${port}`;
    const headers = { ...forwardable(req.headers), host: `${host}:${port}`, "x-forwarded-host": req.headers.host ?? "", "x-forwarded-prefix": prefix };
    // The body is read first, so a request whose connection failed can be sent again whole.
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => forward(res, { host, port, prefix, method: req.method ?? "GET", path: `${path ?? "/"}${query ?? ""}`, headers, body: Buffer.concat(chunks) }, 1));
});

interface Forward {
    readonly host: string;
    readonly port: number;
    readonly prefix: string;
    readonly method: string;
    readonly path: string;
    readonly headers: http.OutgoingHttpHeaders;
    readonly body: Buffer;
}

/**
 * Sends one request upstream. A connection that fails before it is established (refused,
 * unreachable, reset) carried nothing to the app, so it is tried again, up to CONNECT_TRIES times
 * in all, as ingress-nginx does by default (proxy_next_upstream error): each try resolves the
 * Service and lets kube-proxy pick a pod anew. Anything after the connection stands is answered
 * as it came, never repeated.
 */
function forward(res: http.ServerResponse, f: Forward, attempt: number): void {
    let connected = false;
    const upstream = http.request({
        host: f.host,
        port: f.port,
        method: f.method,
        path: f.path,
        headers: { ...f.headers, "content-length": f.body.length },
        timeout: UPSTREAM_TIMEOUT_MS,
        // A fresh connection per request, so each one picks a pod anew, as the smoke engine does.
        agent: false,
    });
    upstream.on("socket", (socket) => {
        const slow = setTimeout(
            () => upstream.destroy(Object.assign(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`), { code: "ECONNECTTIMEOUT" })),
            CONNECT_TIMEOUT_MS,
        );
        socket.once("connect", () => {
            connected = true;
            clearTimeout(slow);
        });
        socket.once("close", () => clearTimeout(slow));
    });
    upstream.on("response", (up) => {
        const headers = forwardable(up.headers);
        // Keep a same-host redirect inside this route, so the client stays on the same app.
        const location = up.headers.location;
        if (typeof location === "string" && location.startsWith("/") && !location.startsWith("//")) headers["location"] = f.prefix + location;
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
    });
    upstream.on("timeout", () => upstream.destroy(Object.assign(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS} ms`), { code: "ETIMEDOUT" })));
    upstream.on("error", (err: NodeJS.ErrnoException) => {
        if (res.headersSent) return res.destroy();
        if (!connected && attempt < CONNECT_TRIES && err.code !== "ETIMEDOUT") {
            // One line per retry, so `kubectl logs` shows how often the data path refused a connection.
            process.stdout.write(`retry ${attempt + 1}/${CONNECT_TRIES}: ${f.method} ${f.prefix}${f.path}: ${err.code ?? err.message}\n`);
            setTimeout(() => forward(res, f, attempt + 1), RETRY_PAUSE_MS);
            return;
        }
        reply(res, 502, { error: `upstream ${f.host}:${f.port}: ${err.code ?? err.message}${attempt > 1 ? ` (after ${attempt} tries)` : ""}` });
    });
    upstream.end(f.body);
}

server.listen(PORT, HOST, () => process.stdout.write(`ingress proxy listening on :${PORT}\n`));
const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
