// kube/kubeconfig.ts: the one kubeconfig reader of kube/api.ts (live switch, rollback, the
// migration Job) and `progression netcheck --kubeconfig`.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { KubeconfigError, kubeTarget } from "../../kube/kubeconfig";

let dir: string;
beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const config = (cluster: Record<string, unknown>, user: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    stringify({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "ctx",
        clusters: [{ name: "c", cluster }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
        users: [{ name: "u", user }],
        ...extra,
    });

const error = (f: () => unknown): string => {
    try {
        f();
    } catch (err) {
        expect(err).toBeInstanceOf(KubeconfigError);
        return (err as Error).message;
    }
    throw new Error("expected a KubeconfigError");
};

describe("kubeTarget", () => {
    it("reads the context's server, CA, client certificate and token; files relative to baseDir", () => {
        fs.writeFileSync(path.join(dir, "ca.crt"), "CA");
        fs.writeFileSync(path.join(dir, "token"), "tok-1234\n");
        const t = kubeTarget(
            config({ server: "https://10.0.0.1:6443/", "certificate-authority": "ca.crt", "tls-server-name": "api" }, { "client-certificate-data": Buffer.from("CERT").toString("base64"), tokenFile: "token" }),
            { baseDir: dir },
        );
        expect(t).toMatchObject({ server: "https://10.0.0.1:6443", context: "ctx", insecure: false, servername: "api", token: "tok-1234" });
        expect(t.ca?.toString()).toBe("CA");
        expect(t.cert?.toString()).toBe("CERT");
    });

    it("refuses a bearer token over plain http, to any host, loopback included", () => {
        for (const server of ["http://127.0.0.1:8080", "http://api.example.com"]) {
            expect(error(() => kubeTarget(config({ server }, { token: "s3cret-token" })))).toBe(
                `cluster 'c' has server ${server}, plain http, and user 'u' has a token, which would travel in clear text. Allowed: a token over https only. Fix: set the cluster's server to its https:// address`,
            );
        }
    });

    it("allows token-less plain http only to a loopback address (a local test server)", () => {
        expect(kubeTarget(config({ server: "http://127.0.0.1:8080" })).server).toBe("http://127.0.0.1:8080");
        expect(kubeTarget(config({ server: "http://[::1]:8080" })).server).toBe("http://[::1]:8080");
        expect(kubeTarget(config({ server: "http://localhost:8080" })).server).toBe("http://localhost:8080");
        expect(error(() => kubeTarget(config({ server: "http://10.0.0.1:8080" })))).toBe(
            "cluster 'c' has server http://10.0.0.1:8080, plain http to another machine: its answers could be read or changed on the way. Allowed: https, or plain http to a loopback address (a local test server). Fix: set the cluster's server to its https:// address",
        );
    });

    it("names the problem and the fix for a missing context, server, plugin or unreadable file", () => {
        expect(error(() => kubeTarget(config({ server: "https://a" }), { context: "nope" }))).toBe("context 'nope' not found; fix: name one of: ctx");
        expect(error(() => kubeTarget(config({ server: "127.0.0.1 port 6443" })))).toBe(
            `cluster 'c' of context 'ctx' has server "127.0.0.1 port 6443", which is not a URL; fix: set it to the API server's address, e.g. https://127.0.0.1:6443`,
        );
        expect(error(() => kubeTarget(config({ server: "https://a" }, { exec: { command: "aws" } })))).toContain(
            "user 'u' authenticates with an exec or auth-provider plugin, which this client does not run; fix:",
        );
        expect(error(() => kubeTarget(config({ server: "https://a" }, { tokenFile: "missing" }), { baseDir: dir }))).toBe(
            `user 'u' has tokenFile '${path.join(dir, "missing")}', which cannot be read (ENOENT); fix: point tokenFile at the token's file, or set token`,
        );
        expect(error(() => kubeTarget("{ not yaml"))).toMatch(/^not valid YAML \(/);
        expect(error(() => kubeTarget(config({ server: "https://a" }, {}, { "current-context": undefined })))).toBe("no current-context; fix: name the context (--context NAME)");
    });
});
