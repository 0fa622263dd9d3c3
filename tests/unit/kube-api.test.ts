// The small Kubernetes API client the live switch and `progression rollback` use, against a local
// HTTP server on 127.0.0.1 standing in for the API server: what it sends, what it refuses to send.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { APPLY_PATCH, KubeApiError, kubeApi, labelSelector } from "../../kube/api";

interface Seen {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    body: string;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
    server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
            seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
            if (req.url!.startsWith("/missing")) {
                res.writeHead(404, { "content-type": "application/json" });
                return res.end(JSON.stringify({ kind: "Status", message: 'services "web" not found' }));
            }
            if (req.url!.includes("/log")) {
                res.writeHead(200, { "content-type": "text/plain" });
                return res.end("line one\nline two\n");
            }
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ ok: true, path: req.url }));
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const kubeconfig = (user: Record<string, unknown>, server = base) =>
    stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server } }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
        users: [{ name: "u", user }],
    });

describe("kubeApi", () => {
    it("sends JSON to the context's server and returns the parsed answer", async () => {
        const api = kubeApi(kubeconfig({}), "ctx");
        const out = await api.request<{ path: string }>("PATCH", "/api/v1/namespaces/a/services/web?fieldManager=x", { contentType: APPLY_PATCH, body: { spec: { selector: { a: "b" } } } });
        expect(out.path).toBe("/api/v1/namespaces/a/services/web?fieldManager=x");
        const last = seen.at(-1)!;
        expect(last.method).toBe("PATCH");
        expect(last.headers["content-type"]).toBe(APPLY_PATCH);
        expect(JSON.parse(last.body)).toEqual({ spec: { selector: { a: "b" } } });
    });

    it("returns a pod log as text", async () => {
        expect(await kubeApi(kubeconfig({}), "ctx").request("GET", "/api/v1/namespaces/a/pods/p/log", { text: true })).toBe("line one\nline two\n");
    });

    it("turns an API error into its status and the server's message", async () => {
        const err = await kubeApi(kubeconfig({}), "ctx")
            .request("GET", "/missing")
            .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KubeApiError);
        expect((err as KubeApiError).status).toBe(404);
        expect((err as KubeApiError).message).toBe('GET /missing: 404 services "web" not found');
    });

    it("refuses to send a bearer token over plain http", () => {
        expect(() => kubeApi(kubeconfig({ token: "s3cret" }), "ctx")).toThrow(/plain http, and user 'u' has a token, which would travel in clear text\. Allowed: a token over https only\. Fix:/);
        expect(seen.some((s) => JSON.stringify(s.headers).includes("s3cret"))).toBe(false);
    });

    it("never runs an exec or auth-provider plugin, and names a missing context", () => {
        expect(() => kubeApi(kubeconfig({ exec: { command: "/bin/sh", args: ["-c", "id"] } }), "ctx")).toThrow(/authenticates with an exec or auth-provider plugin, which this client does not run/);
        expect(() => kubeApi(kubeconfig({}), "other")).toThrow(/kubeconfig: context 'other' not found; fix: name one of: ctx/);
    });

    it("builds label selectors the API server reads", () => {
        expect(labelSelector({ "app.kubernetes.io/name": "web", "progression.dev/revision": "0123456789" })).toBe(
            "labelSelector=app.kubernetes.io%2Fname%3Dweb%2Cprogression.dev%2Frevision%3D0123456789",
        );
    });
});
