// A small Kubernetes API client for the program's own calls (the live switch, rollback): one
// context of a kubeconfig, JSON over HTTPS with node's own https module. @kubernetes/client-node
// would do the same, but it loads for seconds inside the dynamic provider's process, on every
// update, where the switch has a budget of about a second.
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { parse } from "yaml";

/** A failed API call: the HTTP status (0 when none came back) and the API server's message. */
export class KubeApiError extends Error {
    override name = "KubeApiError";
    constructor(
        readonly status: number,
        readonly method: string,
        readonly path: string,
        message: string,
    ) {
        super(`${method} ${path}: ${status === 0 ? "" : `${status} `}${message}`);
    }
}

export interface RequestOptions {
    readonly body?: unknown;
    /** @default "application/json" (or the patch type the caller names) */
    readonly contentType?: string;
    /** @default 10000 */
    readonly timeoutMs?: number;
    /** Resolve with the body as text (a pod's log), not parsed JSON. @default false */
    readonly text?: boolean;
}

export interface KubeApi {
    readonly server: string;
    request<T = unknown>(method: string, apiPath: string, opts?: RequestOptions): Promise<T>;
}

/** Server-side apply's content type. */
export const APPLY_PATCH = "application/apply-patch+yaml";
/** A JSON merge patch's content type. */
export const MERGE_PATCH = "application/merge-patch+json";

type Obj = Record<string, unknown>;

function named(list: unknown, name: string, field: string): Obj | undefined {
    if (!Array.isArray(list)) return undefined;
    const hit = (list as Obj[]).find((e) => e?.["name"] === name);
    return hit?.[field] as Obj | undefined;
}

/** Bytes of a `<key>-data` (base64) or `<key>` (a file path) entry. */
function bytes(entry: Obj, key: string): Buffer | undefined {
    const data = entry[`${key}-data`];
    if (typeof data === "string" && data !== "") return Buffer.from(data, "base64");
    const file = entry[key];
    if (typeof file === "string" && file !== "") return fs.readFileSync(file);
    return undefined;
}

/**
 * A client for `context` of the kubeconfig `text`. Supports what the program's provider is given:
 * a CA, and a client certificate or a bearer token. An exec or auth-provider plugin is refused
 * with the fix, never run.
 */
export function kubeApi(text: string, context: string): KubeApi {
    const doc = (parse(text) ?? {}) as Obj;
    const ctx = named(doc["contexts"], context, "context");
    if (!ctx) throw new Error(`kubeconfig has no context ${JSON.stringify(context)}; fix: name a context the kubeconfig holds`);
    const cluster = named(doc["clusters"], String(ctx["cluster"]), "cluster") ?? {};
    const user = named(doc["users"], String(ctx["user"]), "user") ?? {};
    if (user["exec"] !== undefined || user["auth-provider"] !== undefined) {
        throw new Error(`kubeconfig user ${JSON.stringify(ctx["user"])} authenticates with a plugin, which this client does not run; fix: a client certificate or a token`);
    }
    const server = typeof cluster["server"] === "string" ? cluster["server"] : "";
    if (server === "") throw new Error(`kubeconfig cluster ${JSON.stringify(ctx["cluster"])} has no server; fix: set its server URL`);
    const base = new URL(server);
    const token = typeof user["token"] === "string" ? user["token"] : typeof user["tokenFile"] === "string" ? fs.readFileSync(user["tokenFile"], "utf8").trim() : undefined;
    const tls: https.AgentOptions = {
        ca: bytes(cluster, "certificate-authority"),
        cert: bytes(user, "client-certificate"),
        key: bytes(user, "client-key"),
        rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
        keepAlive: true,
    };
    const agent = base.protocol === "https:" ? new https.Agent(tls) : new http.Agent({ keepAlive: true });
    if (base.protocol === "http:" && token !== undefined) {
        throw new Error(`kubeconfig server ${server} is plain http and the user has a token, which would travel in clear text; fix: an https server`);
    }
    return {
        server,
        request<T>(method: string, apiPath: string, opts: RequestOptions = {}): Promise<T> {
            const url = new URL(apiPath, base);
            const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
            const headers: http.OutgoingHttpHeaders = { accept: "application/json" };
            if (body !== undefined) {
                headers["content-type"] = opts.contentType ?? "application/json";
                headers["content-length"] = Buffer.byteLength(body);
            }
            if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
            const send = url.protocol === "https:" ? https.request : http.request;
            return new Promise<T>((resolve, reject) => {
                const req = send(url, { method, headers, agent, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const raw = Buffer.concat(chunks).toString("utf8");
                        let json: unknown;
                        try {
                            json = raw === "" ? undefined : JSON.parse(raw);
                        } catch {
                            json = undefined;
                        }
                        const status = res.statusCode ?? 0;
                        if (status >= 200 && status < 300) return resolve((opts.text ? raw : json) as T);
                        const message = (json as { message?: string } | undefined)?.message ?? raw.slice(0, 500);
                        reject(new KubeApiError(status, method, url.pathname, message));
                    });
                    res.on("error", (e) => reject(new KubeApiError(0, method, url.pathname, e.message)));
                });
                req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 10_000} ms`)));
                req.on("error", (e) => reject(e instanceof KubeApiError ? e : new KubeApiError(0, method, url.pathname, e.message)));
                req.end(body);
            });
        },
    };
}

/** `?labelSelector=...` for matchLabels. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
    return `labelSelector=${encodeURIComponent(Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(","))}`;
}
