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
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { checkIsolation, isolationModelFromManifests, ManifestError, ModelError, PolicyValidationError, renderReport, reportJson } from "../netpol";
import { UsageError } from "./args";

const ALL_STACKS = ["dev", "staging", "prod"];

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
    } catch {
        throw new UsageError(`--manifests '${target}': no such file or directory; fix: give a directory of Kubernetes YAML`);
    }
    if (stat.isFile()) return [target];
    const files = fs
        .readdirSync(target)
        .filter((f) => /\.(ya?ml|json)$/i.test(f))
        .sort()
        .map((f) => path.join(target, f))
        .filter((f) => fs.statSync(f).isFile());
    if (files.length === 0) throw new UsageError(`--manifests '${target}': no .yaml, .yml or .json files in it`);
    return files;
}

export function readManifests(target: string): unknown[] {
    const objects: unknown[] = [];
    for (const file of manifestFiles(target)) {
        const text = fs.readFileSync(file, "utf8");
        for (const doc of parseAllDocuments(text)) {
            if (doc.errors.length > 0) {
                const e = doc.errors[0]!;
                const line = e.linePos?.[0];
                throw new SourceError(`${file}${line ? `:${line.line}:${line.col}` : ""}: not valid YAML: ${e.message.split("\n")[0]}`);
            }
            const value: unknown = doc.toJS();
            if (value !== null && value !== undefined) objects.push(value);
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
    const token =
        typeof user["token"] === "string"
            ? user["token"]
            : typeof user["tokenFile"] === "string"
              ? fs.readFileSync(path.resolve(base, user["tokenFile"]), "utf8").trim()
              : undefined;
    const target: KubeTarget = { server: cluster["server"].replace(/\/+$/, ""), insecure: cluster["insecure-skip-tls-verify"] === true, context };
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

function getJson(target: KubeTarget, apiPath: string, timeoutMs: number): Promise<unknown> {
    const url = new URL(target.server + apiPath);
    const headers: Record<string, string> = { accept: "application/json" };
    if (target.token) headers["authorization"] = `Bearer ${target.token}`;
    return new Promise((resolve, reject) => {
        const onResponse = (res: http.IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
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
                    reject(new SourceError(`GET ${url.href}: HTTP ${res.statusCode}: ${message}`));
                    return;
                }
                try {
                    resolve(JSON.parse(body));
                } catch {
                    reject(new SourceError(`GET ${url.href}: the answer is not JSON`));
                }
            });
            res.on("error", reject);
        };
        const common = { method: "GET", headers, timeout: timeoutMs };
        const req =
            url.protocol === "https:"
                ? https.request(
                      url,
                      {
                          ...common,
                          ...(target.ca ? { ca: target.ca } : {}),
                          ...(target.cert ? { cert: target.cert } : {}),
                          ...(target.key ? { key: target.key } : {}),
                          ...(target.servername ? { servername: target.servername } : {}),
                          // Only ever off when the kubeconfig itself says insecure-skip-tls-verify (warned).
                          rejectUnauthorized: !target.insecure,
                      },
                      onResponse,
                  )
                : http.request(url, common, onResponse);
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
        req.on("error", (err: NodeJS.ErrnoException) => {
            reject(
                new SourceError(
                    `cannot read ${url.href} (context '${target.context}'): ${err.code ?? ""} ${err.message}`.replace(/\s+/g, " ") +
                        "; is the cluster running and the kubeconfig current?",
                ),
            );
        });
        req.end();
    });
}

export async function readCluster(file: string, context: string | undefined, warn: (m: string) => void): Promise<{ objects: unknown[]; server: string }> {
    const target = kubeTarget(file, context);
    if (target.insecure) warn(`kubeconfig context '${target.context}' sets insecure-skip-tls-verify: the API server's certificate is not checked`);
    const paths = ["/api/v1/namespaces", "/apis/networking.k8s.io/v1/networkpolicies", "/apis/apps/v1/deployments", "/api/v1/services"];
    const lists = await Promise.all(paths.map((p) => getJson(target, p, 15_000)));
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

async function stackObjects(stacks: string[], warn: (m: string) => void): Promise<{ objects: unknown[]; ingressNamespace: string | undefined }> {
    const projectDir = path.resolve(__dirname, "..");
    for (const stack of stacks) {
        if (!fs.existsSync(path.join(projectDir, `Pulumi.${stack}.yaml`))) {
            const known = fs.readdirSync(projectDir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
            throw new UsageError(`--stack '${stack}': no Pulumi.${stack}.yaml; known stacks: ${known.join(", ") || "none"}`);
        }
    }
    // Loaded only now: the builders pull in @pulumi/*, which the other sources do not need.
    const { readStackConfig } = await import("../config/stackFile");
    const { environmentManifests } = await import("../components/manifests");
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
            const cluster = await readCluster(v.kubeconfig, v.context, warn);
            objects = cluster.objects;
            // FAULTS 12: stored policies are not enforced policies.
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
            const built = await stackObjects(stacks, warn);
            objects = built.objects;
            ingressNamespace ??= built.ingressNamespace;
            source = `the program's manifests for stack${stacks.length > 1 ? "s" : ""} ${stacks.join(", ")}`;
        }
        const { model, policies, warnings: modelWarnings } = isolationModelFromManifests(objects, ingressNamespace ? { ingressNamespace } : {});
        const report = checkIsolation(model, policies);
        const all = { ...report, warnings: [...warnings, ...modelWarnings, ...report.warnings] };
        if (v.json) {
            process.stdout.write(JSON.stringify(reportJson(model, all, source), null, 2) + "\n");
        } else {
            process.stdout.write(renderReport(model, all, source));
        }
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
