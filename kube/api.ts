// A small Kubernetes API client for the program's own calls (the live switch, the migration Job, rollback): one
// context of a kubeconfig, JSON over HTTPS with node's own https module. @kubernetes/client-node
// would do the same, but it loads for seconds inside the dynamic provider's process, on every
// update, where the switch has a budget of about a second.
import * as http from "node:http";
import * as https from "node:https";
import { KubeconfigError, type KubeTarget, kubeTarget } from "./kubeconfig";

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

/**
 * A client for `context` of the kubeconfig `text`, as kube/kubeconfig.ts reads it: a CA, and a
 * client certificate or a bearer token (over https only). An exec or auth-provider plugin is
 * refused with the fix, never run.
 */
export function kubeApi(text: string, context: string): KubeApi {
    let target: KubeTarget;
    try {
        target = kubeTarget(text, { context });
    } catch (err) {
        if (err instanceof KubeconfigError) throw new KubeconfigError(`kubeconfig: ${err.message}`);
        throw err;
    }
    const { server, token } = target;
    const base = new URL(server);
    const agent =
        base.protocol === "https:"
            ? new https.Agent({
                  ca: target.ca,
                  cert: target.cert,
                  key: target.key,
                  ...(target.servername !== undefined ? { servername: target.servername } : {}),
                  rejectUnauthorized: !target.insecure,
                  keepAlive: true,
              })
            : new http.Agent({ keepAlive: true });
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
