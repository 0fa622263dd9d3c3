// `progression netcheck`: the NetworkPolicy evaluator over one of three sources: plain manifests,
// a live API server, or the program's own builders for some stacks. Exit 0 when the environments
// are isolated and DNS and the ingress controller are allowed, 1 when not (or when a policy would
// be rejected), 2 when the check could not run (usage, unreadable input, unreachable server).
// The verdicts are what the policies mean; this command never claims a CNI enforces them.
// This file is the command line; each source is a module of cli/netcheck/.
import { parseArgs } from "node:util";
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
import { DEFAULT_TIMEOUT_MS, readCluster } from "./netcheck/cluster";
import { SourceError } from "./netcheck/errors";
import { readManifests } from "./netcheck/manifests";
import { writeChunks } from "./output";

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
  --timeout D              with --kubeconfig: each request's whole answer must arrive within D
                           (default ${DEFAULT_TIMEOUT_MS / 1000}s); durations take ms, s or m
  --matrix                 print the full connectivity matrix (streamed); by default it is printed
                           only when it has at most 24 endpoints, and --json leaves it out
  --max-findings N         findings explained in full (default ${DEFAULT_MAX_FINDINGS}); the rest are counted
  --json                   print the report as JSON
  -h, --help               show this help

exit status: 0 isolated (cross-environment and spoofed traffic denied, DNS and ingress allowed),
1 a finding or an invalid policy, 2 the check could not run (usage, input or connection error)`;

/** The source the flags name: its objects, a description of it for the report, and the ingress namespace. */
async function readSource(
    v: { readonly manifests?: string | undefined; readonly kubeconfig?: string | undefined; readonly context?: string | undefined; readonly stack?: string[] | undefined },
    ingressFlag: string | undefined,
    timeoutMs: number,
    warn: (m: string) => void,
): Promise<{ objects: unknown[]; source: string; ingressNamespace: string | undefined }> {
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
        // Loaded only now: the program's builders pull in @pulumi/*, which the other sources do not need.
        const { stackObjects } = await import("./netcheck/stacks");
        const built = stackObjects(stacks, warn);
        objects = built.objects;
        ingressNamespace ??= built.ingressNamespace;
        source = `the program's manifests for stack${stacks.length > 1 ? "s" : ""} ${stacks.join(", ")}`;
    }
    return { objects, source, ingressNamespace };
}

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
        const { objects, source, ingressNamespace } = await readSource(v, ingressFlag, timeoutMs, warn);
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
