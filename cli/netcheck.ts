// `progression netcheck`: the NetworkPolicy evaluator over one of three sources: plain manifests,
// a live API server, or the program's own builders for some stacks. Exit 0 when the environments
// are isolated and DNS and the ingress controller are allowed, 1 when not (or when a policy would
// be rejected), 2 when the check could not run (usage, unreadable input, unreachable server).
// The verdicts are what the policies mean; this command never claims a CNI enforces them.
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { load as parseYaml, loadAll, YAMLException } from "js-yaml";
import {
    checkIsolation,
    DEFAULT_MAX_FINDINGS,
    isolationModelFromManifests,
    ManifestError,
    ModelError,
    PolicyValidationError,
    reportJsonText,
    reportText,
} from "../netpol";
import { parseDuration, UsageError } from "./args";
import { writeChunks } from "./output";

const ALL_STACKS = ["dev", "staging", "prod"];
/** Per request to the API server: the whole answer, not only the first byte, must arrive by then. */
const DEFAULT_TIMEOUT_MS = 15_000;

export const usage = `usage: progression netcheck [source] [options]

Evaluates NetworkPolicies as a connectivity matrix between the environments, kube-dns, the
ingress controller and an attacker namespace that labels itself environment=prod, and judges
isolation. Verdicts are the policies' semantics, not a probe of live traffic.

source (one of):
  --manifests PATH         a directory (or file) of Kubernetes YAML/JSON, as 'kubectl apply -f PATH'
                           takes it: Namespaces with an 'environment' label are the environments,
                           Deployments and Services give the app pods and port
  --kubeconfig FILE        read Namespaces, NetworkPolicies, Deployments and Services from the API
                           server of FILE's current context (or --context NAME)
  --stack S                the program's own manifests for stack S (repeatable or comma-separated;
                           'all' = ${ALL_STACKS.join(",")}); the default when no source is given

options:
  --ingress-namespace NS   the ingress controller's namespace (default ingress-nginx, or the
                           stacks' configured ingressNamespace)
  --context NAME           kubeconfig context (with --kubeconfig)
  --timeout D              with --kubeconfig: each request's whole answer must arrive within D
                           (default ${DEFAULT_TIMEOUT_MS / 1000}s); durations take ms, s or m
  --matrix                 print the full connectivity matrix (streamed); by default it is printed
                           only when it has at most 24 endpoints, and --json leaves it out
  --max-findings N         findings explained in full (default ${DEFAULT_MAX_FINDINGS}); the rest are counted
  --json                   print the report as JSON
  -h, --help               show this help

exit status: 0 isolated (cross-environment and spoofed traffic denied, DNS and ingress allowed),
1 a finding or an invalid policy, 2 the check could not run (usage, input or connection error)`;

/** Input that stops the check before any verdict: printed as one message, exit 2. */
class SourceError extends Error {
    override name = "SourceError";
}

// ---------------------------------------------------------------------------------------------
// --manifests

/** The files `kubectl apply -f PATH` reads: PATH itself, or its *.yaml/*.yml/*.json (not recursive), in name order. */
function manifestFiles(target: string): string[] {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(target);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" && isSymlink(target)) throw new SourceError(brokenLink("--manifests", target));
        throw new UsageError(
            code === "ENOENT"
                ? `--manifests '${target}': no such file or directory; fix: give a directory of Kubernetes YAML`
                : `--manifests '${target}': cannot be read (${code ?? "error"}); fix: give a readable directory of Kubernetes YAML`,
        );
    }
    if (stat.isFile()) return [target];
    let names: string[];
    try {
        names = fs.readdirSync(target);
    } catch (err) {
        throw new SourceError(`--manifests '${target}': cannot list the directory (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: make it readable`);
    }
    const files = names
        .filter((f) => /\.(ya?ml|json)$/i.test(f))
        .sort()
        .map((f) => path.join(target, f))
        .filter((f) => {
            try {
                return fs.statSync(f).isFile();
            } catch (err) {
                // A dangling symlink, or a file removed while listing: say which, rather than skip it silently.
                if ((err as NodeJS.ErrnoException).code === "ENOENT" && isSymlink(f)) throw new SourceError(brokenLink("--manifests", f));
                throw new SourceError(`--manifests: '${f}' cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
            }
        });
    if (files.length === 0) throw new UsageError(`--manifests '${target}': no .yaml, .yml or .json files in it`);
    return files;
}

function isSymlink(file: string): boolean {
    try {
        return fs.lstatSync(file).isSymbolicLink();
    } catch {
        return false;
    }
}

function brokenLink(flag: string, file: string): string {
    let to = "?";
    try {
        to = fs.readlinkSync(file);
    } catch {
        // keep "?"
    }
    return `${flag}: '${file}' is a symbolic link to '${to}', which does not exist; fix: restore its target or remove the link`;
}

export function readManifests(target: string): unknown[] {
    const objects: unknown[] = [];
    for (const file of manifestFiles(target)) {
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new SourceError(
                `--manifests: '${file}' cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: make it readable or remove it`,
            );
        }
        // js-yaml, YAML 1.2 core schema: an order of magnitude faster than `yaml` on thousands of
        // documents, and these are plain data (no anchors across files, no custom tags).
        try {
            loadAll(
                text,
                (value) => {
                    if (value !== null && value !== undefined) objects.push(value);
                },
                { filename: file },
            );
        } catch (err) {
            if (!(err instanceof YAMLException)) throw err;
            const at = err.mark ? `:${err.mark.line + 1}:${err.mark.column + 1}` : "";
            throw new SourceError(`${file}${at}: not valid YAML: ${err.reason}`);
        }
    }
    return objects;
}

// ---------------------------------------------------------------------------------------------
// --kubeconfig: plain HTTPS with the kubeconfig's credentials, so no kubectl is needed.

interface KubeTarget {
    server: string;
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
    token?: string;
    insecure: boolean;
    servername?: string;
    context: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function named(list: unknown, name: string, field: string): Obj | undefined {
    if (!Array.isArray(list)) return undefined;
    const entry: unknown = list.find((e: unknown) => isObj(e) && e["name"] === name);
    return isObj(entry) && isObj(entry[field]) ? entry[field] : undefined;
}

export function kubeTarget(file: string, contextName?: string): KubeTarget {
    let doc: unknown;
    try {
        doc = parseYaml(fs.readFileSync(file, "utf8"));
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new SourceError(
            `--kubeconfig '${file}': ${code ? `cannot read the file (${code})` : `not valid YAML (${(err as Error).message.split("\n")[0]})`}`,
        );
    }
    if (!isObj(doc)) throw new SourceError(`--kubeconfig '${file}': empty or not a kubeconfig; fix: point at a kubeconfig with clusters, users and contexts`);
    const context = contextName ?? (typeof doc["current-context"] === "string" ? doc["current-context"] : undefined);
    if (!context) throw new SourceError(`--kubeconfig '${file}': no current-context; fix: pass --context NAME`);
    const ctx = named(doc["contexts"], context, "context");
    if (!ctx) throw new SourceError(`--kubeconfig '${file}': context '${context}' not found`);
    const cluster = named(doc["clusters"], String(ctx["cluster"]), "cluster");
    const user = named(doc["users"], String(ctx["user"]), "user") ?? {};
    if (!cluster || typeof cluster["server"] !== "string")
        throw new SourceError(`--kubeconfig '${file}': cluster '${String(ctx["cluster"])}' of context '${context}' has no server`);
    const server = cluster["server"].replace(/\/+$/, "");
    let serverUrl: URL | undefined;
    try {
        serverUrl = new URL(server);
    } catch {
        serverUrl = undefined;
    }
    if (!serverUrl || (serverUrl.protocol !== "https:" && serverUrl.protocol !== "http:")) {
        throw new SourceError(
            `--kubeconfig '${file}': cluster '${String(ctx["cluster"])}' has server ${JSON.stringify(cluster["server"])}, which is not ${serverUrl ? "an http(s)" : "a"} URL; ` +
                `fix: set it to the API server's address, e.g. https://127.0.0.1:6443`,
        );
    }
    const base = path.dirname(path.resolve(file));
    const bytes = (dataKey: string, fileKey: string, from: Obj): Buffer | undefined => {
        const data = from[dataKey];
        const fileName = from[fileKey];
        if (typeof data === "string") return Buffer.from(data, "base64");
        if (typeof fileName === "string") {
            const p = path.resolve(base, fileName);
            try {
                return fs.readFileSync(p);
            } catch (err) {
                throw new SourceError(`--kubeconfig '${file}': ${fileKey} '${p}' cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
            }
        }
        return undefined;
    };
    if (user["exec"] !== undefined || user["auth-provider"] !== undefined) {
        throw new SourceError(
            `--kubeconfig '${file}': user '${String(ctx["user"])}' authenticates with an exec or auth-provider plugin, which netcheck does not run; fix: use a kubeconfig with client certificates or a token`,
        );
    }
    let token = typeof user["token"] === "string" ? user["token"] : undefined;
    if (token === undefined && typeof user["tokenFile"] === "string") {
        const p = path.resolve(base, user["tokenFile"]);
        try {
            token = fs.readFileSync(p, "utf8").trim();
        } catch (err) {
            throw new SourceError(
                `--kubeconfig '${file}': user '${String(ctx["user"])}' has tokenFile '${p}', which cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: point tokenFile at the token's file, or set token`,
            );
        }
    }
    const target: KubeTarget = { server, insecure: cluster["insecure-skip-tls-verify"] === true, context };
    const ca = bytes("certificate-authority-data", "certificate-authority", cluster);
    const cert = bytes("client-certificate-data", "client-certificate", user);
    const key = bytes("client-key-data", "client-key", user);
    if (ca) target.ca = ca;
    if (cert) target.cert = cert;
    if (key) target.key = key;
    if (token) target.token = token;
    if (typeof cluster["tls-server-name"] === "string") target.servername = cluster["tls-server-name"];
    return target;
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
        const req =
            url.protocol === "https:"
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
    const target = kubeTarget(file, context);
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

// ---------------------------------------------------------------------------------------------
// --stack

function stackObjects(stacks: string[], warn: (m: string) => void): { objects: unknown[]; ingressNamespace: string | undefined } {
    const projectDir = path.resolve(__dirname, "..");
    for (const stack of stacks) {
        if (!fs.existsSync(path.join(projectDir, `Pulumi.${stack}.yaml`))) {
            const known = fs.readdirSync(projectDir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
            throw new UsageError(`--stack '${stack}': no Pulumi.${stack}.yaml; known stacks: ${known.join(", ") || "none"}`);
        }
    }
    // Loaded only now: the builders pull in @pulumi/*, which the other sources do not need.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { readStackConfig } = require("../config/stackFile") as typeof import("../config/stackFile");
    const { environmentManifests } = require("../components/manifests") as typeof import("../components/manifests");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const objects: unknown[] = [];
    const ingress = new Set<string>();
    for (const stack of stacks) {
        let config;
        try {
            config = readStackConfig(stack);
        } catch (err) {
            throw new SourceError(`stack ${stack}: ${(err as Error).message}`);
        }
        ingress.add(config.network.ingressNamespace);
        objects.push(...environmentManifests(config));
    }
    if (ingress.size > 1)
        warn(
            `the stacks name different ingress namespaces (${[...ingress].join(", ")}); checking against ${[...ingress][0]}; use --ingress-namespace to choose`,
        );
    return { objects, ingressNamespace: [...ingress][0] };
}

// ---------------------------------------------------------------------------------------------

export async function run(argv: string[]): Promise<number> {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: false,
            options: {
                manifests: { type: "string" },
                kubeconfig: { type: "string" },
                context: { type: "string" },
                stack: { type: "string", multiple: true },
                "ingress-namespace": { type: "string" },
                timeout: { type: "string" },
                matrix: { type: "boolean", default: false },
                "max-findings": { type: "string" },
                json: { type: "boolean", default: false },
                help: { type: "boolean", short: "h", default: false },
            },
        });
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n\n${usage}`);
    }
    const v = parsed.values;
    if (v.help) {
        process.stdout.write(usage + "\n");
        return 0;
    }
    const sources = [v.manifests !== undefined && "--manifests", v.kubeconfig !== undefined && "--kubeconfig", v.stack !== undefined && "--stack"].filter(
        Boolean,
    );
    if (sources.length > 1) throw new UsageError(`give one source, not ${sources.join(" and ")}`);
    if (v.context !== undefined && v.kubeconfig === undefined) throw new UsageError("--context needs --kubeconfig");
    if (v.timeout !== undefined && v.kubeconfig === undefined) throw new UsageError("--timeout needs --kubeconfig (it limits each request to the API server)");
    const timeoutMs = v.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration("--timeout", v.timeout);
    if (timeoutMs < 1) throw new UsageError(`--timeout '${v.timeout}' must be more than 0; fix: e.g. --timeout 15s`);
    const maxFindingsText = v["max-findings"];
    if (maxFindingsText !== undefined && !/^\d+$/.test(maxFindingsText)) {
        throw new UsageError(`--max-findings '${maxFindingsText}' is not a whole number; fix: e.g. --max-findings 500`);
    }
    const maxFindings = maxFindingsText === undefined ? DEFAULT_MAX_FINDINGS : Number(maxFindingsText);
    const ingressFlag = v["ingress-namespace"];
    if (ingressFlag !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ingressFlag)) {
        throw new UsageError(`--ingress-namespace '${ingressFlag}' is not a namespace name; allowed: an RFC 1123 label such as ingress-nginx`);
    }
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);

    try {
        let objects: unknown[];
        let source: string;
        let ingressNamespace = ingressFlag;
        if (v.manifests !== undefined) {
            objects = readManifests(v.manifests);
            source = `manifests in ${v.manifests}`;
        } else if (v.kubeconfig !== undefined) {
            const cluster = await readCluster(v.kubeconfig, v.context, warn, timeoutMs);
            objects = cluster.objects;
            // Stored policies are not enforced policies: only a network plugin enforces them.
            warn(
                "these are the stored policies' semantics; whether this cluster's network plugin enforces NetworkPolicy is not checked (a kwok cluster runs none)",
            );
            source = `the policies stored in the API server at ${cluster.server}`;
        } else {
            const requested = (v.stack ?? ["all"])
                .flatMap((s) => s.split(","))
                .map((s) => s.trim())
                .filter((s) => s !== "");
            const stacks = [...new Set(requested.flatMap((s) => (s === "all" ? ALL_STACKS : [s])))];
            if (stacks.length === 0) throw new UsageError("--stack needs a stack name (dev, staging, prod or all)");
            const built = stackObjects(stacks, warn);
            objects = built.objects;
            ingressNamespace ??= built.ingressNamespace;
            source = `the program's manifests for stack${stacks.length > 1 ? "s" : ""} ${stacks.join(", ")}`;
        }
        const { model, policies, warnings: modelWarnings } = isolationModelFromManifests(objects, ingressNamespace ? { ingressNamespace } : {});
        const report = checkIsolation(model, policies, { maxFindings });
        const all = { ...report, warnings: [...warnings, ...modelWarnings, ...report.warnings] };
        await writeChunks(v.json ? reportJsonText(model, all, source, { matrix: v.matrix }) : reportText(model, all, source, v.matrix ? { matrix: true } : {}));
        return report.ok ? 0 : 1;
    } catch (err) {
        if (err instanceof PolicyValidationError) {
            // The API server would refuse these policies, so nothing they intend is in force.
            process.stderr.write(`progression netcheck: ${err.message}\nFix the policies above; until the API server accepts them they isolate nothing.\n`);
            return 1;
        }
        if (err instanceof SourceError || err instanceof ManifestError || err instanceof ModelError) {
            process.stderr.write(`progression netcheck: ${err.message}\n`);
            return 2;
        }
        throw err;
    }
}
