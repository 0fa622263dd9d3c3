// A connectivity probe that runs as a pod: asked over HTTP, it tries connections from inside its
// own pod network namespace, so the answer is what that pod's NetworkPolicies really allow.
//
//   POST /probe  [{"kind": "tcp" | "dns-udp" | "dns-tcp", "host": "198.18.0.7", "port": 8080}, ...]
//   ->           [{..., "ok": true, "ms": 3}, {..., "ok": false, "error": "timeout"}, ...]
//
// tcp: a completed TCP handshake. dns-udp / dns-tcp: a DNS answer to a query for `name` (default
// kubernetes.default.svc.cluster.local), with its response code and first A record. Optional
// `timeoutMs` per attempt (default 1500). Runs on Node >= 23.6 as is (types stripped).
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as net from "node:net";

const PORT = Number(process.env["PORT"] ?? "8080");
// All interfaces inside the pod; HOST=127.0.0.1 to try it on a workstation.
const HOST = process.env["HOST"] ?? "0.0.0.0";
const DEFAULT_NAME = "kubernetes.default.svc.cluster.local";
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

interface Attempt {
    readonly kind: "tcp" | "dns-udp" | "dns-tcp";
    readonly host: string;
    readonly port: number;
    readonly name?: string;
    readonly timeoutMs?: number;
}

interface Outcome {
    readonly ok: boolean;
    readonly ms: number;
    readonly error?: string;
    readonly rcode?: string;
    readonly address?: string;
}

function query(name: string): { id: number; packet: Buffer } {
    const id = Math.floor(Math.random() * 0xffff);
    const labels = name.split(".").filter(Boolean);
    const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0])]);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(0x0100, 2); // recursion desired
    header.writeUInt16BE(1, 4); // one question
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(1, 0); // A
    tail.writeUInt16BE(1, 2); // IN
    return { id, packet: Buffer.concat([header, qname, tail]) };
}

/** The response code and the first A record of a DNS answer. */
function answer(id: number, msg: Buffer): { rcode: string; address?: string } {
    if (msg.length < 12 || msg.readUInt16BE(0) !== id) throw new Error("not an answer to this query");
    const rcode = RCODES[msg.readUInt16BE(2) & 0xf] ?? `RCODE${msg.readUInt16BE(2) & 0xf}`;
    const skipName = (at: number): number => {
        for (;;) {
            const len = msg[at] ?? 0;
            if ((len & 0xc0) === 0xc0) return at + 2;
            if (len === 0) return at + 1;
            at += len + 1;
        }
    };
    let at = 12;
    for (let q = msg.readUInt16BE(4); q > 0; q--) at = skipName(at) + 4;
    for (let a = msg.readUInt16BE(6); a > 0 && at < msg.length; a--) {
        at = skipName(at);
        const type = msg.readUInt16BE(at);
        const rdlength = msg.readUInt16BE(at + 8);
        if (type === 1 && rdlength === 4) return { rcode, address: [...msg.subarray(at + 10, at + 14)].join(".") };
        at += 10 + rdlength;
    }
    return { rcode };
}

function attempt(a: Attempt): Promise<Outcome> {
    const started = Date.now();
    const timeoutMs = a.timeoutMs ?? 1500;
    const ms = () => Date.now() - started;
    return new Promise((resolve) => {
        let settled = false;
        const done = (o: Omit<Outcome, "ms">, cleanup: () => void) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            cleanup();
            resolve({ ...o, ms: ms() });
        };
        let cleanup: () => void = () => undefined;
        const timer = setTimeout(() => done({ ok: false, error: "timeout" }, cleanup), timeoutMs);
        const { id, packet } = query(a.name ?? DEFAULT_NAME);
        if (a.kind === "dns-udp") {
            const socket = dgram.createSocket("udp4");
            cleanup = () => socket.close();
            socket.on("error", (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message }, cleanup));
            socket.on("message", (msg) => {
                try {
                    done({ ok: true, ...answer(id, msg) }, cleanup);
                } catch {
                    /* a stray datagram: keep waiting */
                }
            });
            // connect() first, so an ICMP refusal surfaces as an error rather than silence.
            socket.connect(a.port, a.host, () => socket.send(packet));
            return;
        }
        const socket = net.connect({ host: a.host, port: a.port });
        cleanup = () => socket.destroy();
        socket.on("error", (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message }, cleanup));
        if (a.kind === "tcp") {
            socket.on("connect", () => done({ ok: true }, cleanup));
            return;
        }
        let received = Buffer.alloc(0);
        socket.on("connect", () => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(packet.length);
            socket.write(Buffer.concat([len, packet]));
        });
        socket.on("data", (chunk: Buffer) => {
            received = Buffer.concat([received, chunk]);
            if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
                try {
                    done({ ok: true, ...answer(id, received.subarray(2, 2 + received.readUInt16BE(0))) }, cleanup);
                } catch (err) {
                    done({ ok: false, error: (err as Error).message }, cleanup);
                }
            }
        });
    });
}

function valid(a: unknown): a is Attempt {
    if (typeof a !== "object" || a === null) return false;
    const o = a as Record<string, unknown>;
    return (
        (o["kind"] === "tcp" || o["kind"] === "dns-udp" || o["kind"] === "dns-tcp") &&
        typeof o["host"] === "string" &&
        net.isIP(o["host"]) !== 0 &&
        typeof o["port"] === "number" &&
        Number.isInteger(o["port"]) &&
        o["port"] > 0 &&
        o["port"] < 65536
    );
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
}

const server = http.createServer((req, res) => {
    if (req.url === "/healthz") return reply(res, 200, { status: "ok" });
    if (req.url !== "/probe" || req.method !== "POST") return reply(res, 404, { error: "POST /probe with a JSON list of attempts" });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
        let attempts: unknown;
        try {
            attempts = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
            return reply(res, 400, { error: "the body is not JSON" });
        }
        if (!Array.isArray(attempts) || attempts.length > 500 || !attempts.every(valid)) {
            return reply(res, 400, { error: 'expected at most 500 of {"kind": "tcp"|"dns-udp"|"dns-tcp", "host": IP, "port": 1-65535}' });
        }
        Promise.all(attempts.map(async (a) => ({ ...a, ...(await attempt(a)) }))).then(
            (results) => reply(res, 200, results),
            (err: unknown) => reply(res, 500, { error: String(err) }),
        );
    });
});

server.listen(PORT, HOST, () => process.stdout.write(`probe listening on :${PORT}\n`));
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
