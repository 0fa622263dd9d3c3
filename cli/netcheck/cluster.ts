// `progression netcheck --kubeconfig FILE`: the Namespaces, NetworkPolicies, Deployments and
// Services an API server stores, read over HTTPS with the credentials kube/kubeconfig.ts reads
// from FILE (no kubectl needed). Each request's whole answer must arrive within a timeout.
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { KubeconfigError, type KubeTarget, kubeTarget } from "../../kube/kubeconfig";
import { SourceError } from "./errors";

/** Per request to the API server: the whole answer, not only the first byte, must arrive by then. */
export const DEFAULT_TIMEOUT_MS = 15_000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The target of `file`'s context, every problem as a SourceError naming the file. */
export function clusterTarget(file: string, context: string | undefined): KubeTarget {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new SourceError(`--kubeconfig '${file}': cannot read the file (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    try {
        return kubeTarget(text, { ...(context !== undefined ? { context } : {}), baseDir: path.dirname(path.resolve(file)) });
    } catch (err) {
        if (err instanceof KubeconfigError) throw new SourceError(`--kubeconfig '${file}': ${err.message}`);
        throw err;
    }
}

/** Answers larger than this are refused: a list of every object of a big cluster stays far below it. */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** What to do about a certificate the API server presented and Node refused, by OpenSSL code. */
function tlsAdvice(code: string | undefined): string | undefined {
    switch (code) {
        case "DEPTH_ZERO_SELF_SIGNED_CERT":
        case "SELF_SIGNED_CERT_IN_CHAIN":
        case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
        case "UNABLE_TO_GET_ISSUER_CERT":
        case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
            return "the API server's certificate is not signed by a CA this kubeconfig trusts; fix: set the cluster's certificate-authority (a file) or certificate-authority-data (base64 PEM) in the kubeconfig to the CA that signed it";
        case "CERT_HAS_EXPIRED":
            return "the API server's certificate has expired; fix: renew the API server's certificate";
        case "ERR_TLS_CERT_ALTNAME_INVALID":
            return "the API server's certificate is not issued for this address; fix: use the address the certificate names as the cluster's server, or set tls-server-name in the kubeconfig";
        default:
            return undefined;
    }
}

/** Node appends a hint about its own --use-system-ca flag to some TLS errors; it does not apply here. */
const stripNodeHint = (message: string) => message.replace(/;\s*if the root CA is installed locally.*$/s, "");

/** A GET request to the API server, with the kubeconfig's TLS material when the server is https. */
function getRequest(target: KubeTarget, url: URL, headers: Record<string, string>, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    return url.protocol === "https:"
        ? https.request(
              url,
              {
                  method: "GET",
                  headers,
                  ...(target.ca ? { ca: target.ca } : {}),
                  ...(target.cert ? { cert: target.cert } : {}),
                  ...(target.key ? { key: target.key } : {}),
                  ...(target.servername ? { servername: target.servername } : {}),
                  // Only ever off when the kubeconfig itself says insecure-skip-tls-verify (warned).
                  rejectUnauthorized: !target.insecure,
              },
              onResponse,
          )
        : http.request(url, { method: "GET", headers }, onResponse);
}

/**
 * GET a JSON document. The whole answer must arrive within `timeoutMs`: a server that sends a
 * byte now and then keeps a connection busy but never finishes, so an idle timeout is not enough.
 */
function getJson(target: KubeTarget, apiPath: string, timeoutMs: number): Promise<unknown> {
    const url = new URL(target.server + apiPath);
    const headers: Record<string, string> = { accept: "application/json" };
    if (target.token) headers["authorization"] = `Bearer ${target.token}`;
    const where = `cannot read ${url.href} (context '${target.context}')`;
    return new Promise((resolve, reject) => {
        let settled = false;
        const finish = (err: Error | undefined, value?: unknown) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (err) reject(err);
            else resolve(value);
        };
        const onResponse = (res: http.IncomingMessage) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on("data", (c: Buffer) => {
                size += c.length;
                if (size > MAX_ANSWER_BYTES) {
                    req.destroy();
                    finish(new SourceError(`${where}: the answer exceeds ${MAX_ANSWER_BYTES / 1024 / 1024} MiB; is this an API server?`));
                    return;
                }
                chunks.push(c);
            });
            res.on("end", () => {
                const body = Buffer.concat(chunks).toString("utf8");
                if (res.statusCode !== 200) {
                    let message = body.slice(0, 200);
                    try {
                        const status = (JSON.parse(body) as Obj)["message"];
                        if (typeof status === "string") message = status;
                    } catch {
                        // not a Status object: keep the raw start of the body
                    }
                    finish(new SourceError(`GET ${url.href}: HTTP ${res.statusCode}: ${message}`));
                    return;
                }
                try {
                    finish(undefined, JSON.parse(body));
                } catch {
                    finish(new SourceError(`GET ${url.href}: the answer is not JSON`));
                }
            });
            res.on("error", (err) => finish(new SourceError(`${where}: the answer broke off (${err.message})`)));
        };
        const req = getRequest(target, url, headers, onResponse);
        const timer = setTimeout(() => {
            finish(
                new SourceError(
                    `${where}: no complete answer within ${timeoutMs / 1000}s; is the cluster overloaded or the server not an API server? (--timeout sets the limit)`,
                ),
            );
            req.destroy();
        }, timeoutMs);
        req.on("error", (err: NodeJS.ErrnoException) => {
            const advice = tlsAdvice(err.code);
            finish(
                new SourceError(
                    advice
                        ? `${where}: ${advice} (${err.code}: ${stripNodeHint(err.message)})`
                        : `${where}: ${err.code ?? ""} ${stripNodeHint(err.message)}`.replace(/\s+/g, " ") +
                              "; is the cluster running and the kubeconfig current?",
                ),
            );
        });
        req.end();
    });
}

export async function readCluster(
    file: string,
    context: string | undefined,
    warn: (m: string) => void,
    timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ objects: unknown[]; server: string }> {
    const target = clusterTarget(file, context);
    if (target.insecure) warn(`kubeconfig context '${target.context}' sets insecure-skip-tls-verify: the API server's certificate is not checked`);
    const paths = ["/api/v1/namespaces", "/apis/networking.k8s.io/v1/networkpolicies", "/apis/apps/v1/deployments", "/api/v1/services"];
    const lists = await Promise.all(paths.map((p) => getJson(target, p, timeoutMs)));
    // List items come without kind; name it from the list's kind (NamespaceList -> Namespace).
    const objects = lists.flatMap((list) => {
        const kind = isObj(list) && typeof list["kind"] === "string" ? list["kind"].replace(/List$/, "") : undefined;
        const items = isObj(list) && Array.isArray(list["items"]) ? list["items"] : [];
        return items.map((i: unknown) => (isObj(i) ? { kind, ...i } : i));
    });
    return { objects, server: target.server };
}
