// The one kubeconfig reader: kube/api.ts (the live switch, rollback, the migration Job) and
// `progression netcheck --kubeconfig` both take their server and credentials from here, so both
// refuse the same things:
//   - an exec or auth-provider plugin (never run);
//   - a bearer token over plain http, to any host: it would travel in clear text;
//   - plain http to anything but a loopback address (a local test server): answers from another
//     machine could be read or changed on the way.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** A kubeconfig that cannot be used; the message names what, the value and the fix. */
export class KubeconfigError extends Error {
    override name = "KubeconfigError";
}

/** Where and how to reach one context's API server. */
export interface KubeTarget {
    /** The server URL without a trailing slash. */
    readonly server: string;
    readonly context: string;
    readonly ca?: Buffer;
    readonly cert?: Buffer;
    readonly key?: Buffer;
    readonly token?: string;
    /** The kubeconfig says insecure-skip-tls-verify: the server's certificate is not checked. */
    readonly insecure: boolean;
    /** tls-server-name: the name the server's certificate is checked against. */
    readonly servername?: string;
}

export interface KubeTargetOptions {
    /** @default - the kubeconfig's current-context */
    readonly context?: string;
    /** Where relative file paths (certificate-authority, client-key, tokenFile) start. @default - the working directory */
    readonly baseDir?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function named(list: unknown, name: string, field: string): Obj | undefined {
    if (!Array.isArray(list)) return undefined;
    const entry: unknown = list.find((e: unknown) => isObj(e) && e["name"] === name);
    return isObj(entry) && isObj(entry[field]) ? entry[field] : undefined;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Whether `url` names this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(url: URL): boolean {
    return LOOPBACK.test(url.hostname);
}

/** The server, credentials and TLS settings of one context of the kubeconfig `text`. */
export function kubeTarget(text: string, opts: KubeTargetOptions = {}): KubeTarget {
    let doc: unknown;
    try {
        doc = parse(text);
    } catch (err) {
        throw new KubeconfigError(`not valid YAML (${(err as Error).message.split("\n")[0]})`);
    }
    if (!isObj(doc)) throw new KubeconfigError("empty or not a kubeconfig; fix: point at a kubeconfig with clusters, users and contexts");
    const context = opts.context ?? (typeof doc["current-context"] === "string" && doc["current-context"] !== "" ? doc["current-context"] : undefined);
    if (context === undefined) throw new KubeconfigError("no current-context; fix: name the context (--context NAME)");
    const ctx = named(doc["contexts"], context, "context");
    if (!ctx) {
        const known = Array.isArray(doc["contexts"]) ? doc["contexts"].flatMap((c: unknown) => (isObj(c) && typeof c["name"] === "string" ? [c["name"]] : [])) : [];
        throw new KubeconfigError(`context '${context}' not found; fix: name one of: ${known.join(", ") || "(none)"}`);
    }
    const clusterName = String(ctx["cluster"]);
    const userName = String(ctx["user"]);
    const cluster = named(doc["clusters"], clusterName, "cluster");
    const user = named(doc["users"], userName, "user") ?? {};
    if (!cluster || typeof cluster["server"] !== "string" || cluster["server"] === "") {
        throw new KubeconfigError(`cluster '${clusterName}' of context '${context}' has no server; fix: set its server to the API server's address, e.g. https://127.0.0.1:6443`);
    }
    const server = cluster["server"].replace(/\/+$/, "");
    let url: URL | undefined;
    try {
        url = new URL(server);
    } catch {
        url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
        throw new KubeconfigError(
            `cluster '${clusterName}' of context '${context}' has server ${JSON.stringify(cluster["server"])}, which is not ${url ? "an http(s)" : "a"} URL; ` +
                "fix: set it to the API server's address, e.g. https://127.0.0.1:6443",
        );
    }
    if (user["exec"] !== undefined || user["auth-provider"] !== undefined) {
        throw new KubeconfigError(
            `user '${userName}' authenticates with an exec or auth-provider plugin, which this client does not run; fix: use a kubeconfig with a client certificate or a token`,
        );
    }
    const base = opts.baseDir ?? process.cwd();
    const read = (file: string, what: string, fix: string): Buffer => {
        const p = path.resolve(base, file);
        try {
            return fs.readFileSync(p);
        } catch (err) {
            throw new KubeconfigError(`${what} '${p}', which cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: ${fix}`);
        }
    };
    const bytes = (from: Obj, key: string, owner: string): Buffer | undefined => {
        const data = from[`${key}-data`];
        if (typeof data === "string" && data !== "") return Buffer.from(data, "base64");
        const file = from[key];
        if (typeof file === "string" && file !== "") return read(file, `${owner} has ${key}`, `point ${key} at the file, or set ${key}-data`);
        return undefined;
    };
    let token = typeof user["token"] === "string" && user["token"] !== "" ? user["token"] : undefined;
    if (token === undefined && typeof user["tokenFile"] === "string" && user["tokenFile"] !== "") {
        token = read(user["tokenFile"], `user '${userName}' has tokenFile`, "point tokenFile at the token's file, or set token").toString("utf8").trim();
    }
    if (url.protocol === "http:" && token !== undefined) {
        throw new KubeconfigError(
            `cluster '${clusterName}' has server ${server}, plain http, and user '${userName}' has a token, which would travel in clear text. ` +
                "Allowed: a token over https only. Fix: set the cluster's server to its https:// address",
        );
    }
    if (url.protocol === "http:" && !isLoopback(url)) {
        throw new KubeconfigError(
            `cluster '${clusterName}' has server ${server}, plain http to another machine: its answers could be read or changed on the way. ` +
                "Allowed: https, or plain http to a loopback address (a local test server). Fix: set the cluster's server to its https:// address",
        );
    }
    const ca = bytes(cluster, "certificate-authority", `cluster '${clusterName}'`);
    const cert = bytes(user, "client-certificate", `user '${userName}'`);
    const key = bytes(user, "client-key", `user '${userName}'`);
    return {
        server,
        context,
        insecure: cluster["insecure-skip-tls-verify"] === true,
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(token !== undefined ? { token } : {}),
        ...(typeof cluster["tls-server-name"] === "string" ? { servername: cluster["tls-server-name"] } : {}),
    };
}
