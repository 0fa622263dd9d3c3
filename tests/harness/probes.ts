// Isolation proven by real connections on the local cluster's real node: a probe pod in each
// environment, in a namespace that copies an environment's labels (the spoofer) and in the
// ingress controller's namespace tries TCP to every app and DNS over UDP and TCP; the measured
// matrix is set against `progression netcheck`'s verdicts for the same pods on the same cluster.
//
//   toolchain/run tsx tests/harness/probes.ts [--kubeconfig .local/kubeconfig] [--keep]
//
// Exit 0 when every measured connection matches the verdict and the enforcer (kube-router) runs;
// 1 otherwise, with the connections that differ. The probes and the spoofing namespace are
// removed afterwards unless --keep.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { REAL_NODE, REPO } from "./local";

/** Where kube-router's health endpoint listens (cluster/node.sh). */
export const ENFORCER_HEALTH = "http://127.0.0.1:20244/healthz";
export const PROBE_NAME = "probe";
const NAMESPACE_NAME = "kubernetes.io/metadata.name";

/** A kubeconfig, and a context in it (the current one when omitted): what kubectl is pointed at. */
export interface KubectlTarget {
    readonly kubeconfig: string;
    readonly context?: string;
}

/** The parts of `progression netcheck --json` this module reads. */
export interface NetcheckReport {
    readonly environments: readonly { readonly environment: string; readonly namespace: string; readonly apps: readonly { readonly pod: string; readonly probe: string }[] }[];
    readonly dns: readonly string[];
    readonly ingressController: { readonly namespace: string };
    readonly probes: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
    readonly cells: readonly { readonly from: string; readonly to: string; readonly probe: string; readonly allowed: boolean }[];
}

type Labels = Record<string, string>;
interface DeploymentJson {
    readonly spec: { readonly selector: { readonly matchLabels: Labels }; readonly template: { readonly metadata: { readonly labels: Labels } } };
}
interface PodJson {
    readonly metadata: { readonly deletionTimestamp?: string };
    readonly status: { readonly podIP?: string; readonly conditions?: readonly { readonly type: string; readonly status: string }[] };
}

function kubectl(k: KubectlTarget, args: string[], input?: string): string {
    return execFileSync("kubectl", ["--kubeconfig", k.kubeconfig, ...(k.context ? ["--context", k.context] : []), ...args], {
        encoding: "utf8",
        stdio: ["pipe", "pipe", "pipe"],
        ...(input === undefined ? {} : { input }),
    });
}
function kubectlJson<T>(k: KubectlTarget, args: string[]): T {
    return JSON.parse(kubectl(k, [...args, "-o", "json"])) as T;
}

/** A probe Deployment: the restricted Pod Security profile, a read-only root, the tools image. */
export function probeManifest(namespace: string, image: string, labels: Readonly<Record<string, string>>): Record<string, unknown> {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: PROBE_NAME, namespace, labels },
        spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    automountServiceAccountToken: false,
                    terminationGracePeriodSeconds: 1,
                    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "probe",
                            image,
                            command: ["node", "/tools/probe.ts"],
                            ports: [{ name: "probe", containerPort: 8080, protocol: "TCP" }],
                            resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                            readinessProbe: { httpGet: { path: "/healthz", port: "probe" }, periodSeconds: 1 },
                        },
                    ],
                },
            },
        },
    };
}

export interface ProbeSource {
    readonly namespace: string;
    /** Labels of the probe's pods. */
    readonly labels: Readonly<Record<string, string>>;
    /** Labels for the namespace, when it is created here (the spoofer). */
    readonly createNamespace?: Readonly<Record<string, string>>;
}

/** Applies the probes (and any namespace they need), waits until each answers; pod IPs by namespace. */
export function deployProbes(k: KubectlTarget, image: string, sources: readonly ProbeSource[]): Map<string, string> {
    const docs: Record<string, unknown>[] = [];
    for (const s of sources) {
        if (s.createNamespace) docs.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: s.namespace, labels: s.createNamespace } });
        docs.push(probeManifest(s.namespace, image, s.labels));
    }
    kubectl(k, ["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: docs }));
    const ips = new Map<string, string>();
    for (const s of sources) {
        kubectl(k, ["-n", s.namespace, "rollout", "status", `deployment/${PROBE_NAME}`, "--timeout=120s"]);
        ips.set(s.namespace, readyPodIp(k, s.namespace, s.labels));
    }
    return ips;
}

export function removeProbes(k: KubectlTarget, sources: readonly ProbeSource[]): void {
    for (const s of sources) {
        if (s.createNamespace) kubectl(k, ["delete", "namespace", s.namespace, "--ignore-not-found", "--wait=false"]);
        else kubectl(k, ["-n", s.namespace, "delete", "deployment", PROBE_NAME, "--ignore-not-found", "--wait=false"]);
    }
}

const selectorText = (selector: Readonly<Record<string, string>>) =>
    Object.entries(selector)
        .map(([a, b]) => `${a}=${b}`)
        .join(",");

/** The IP of a Ready pod matching `selector` in `namespace`, or undefined when none is Ready. */
export function readyPodIpOrUndefined(k: KubectlTarget, namespace: string, selector: Readonly<Record<string, string>>): string | undefined {
    const pods = kubectlJson<{ items: PodJson[] }>(k, ["-n", namespace, "get", "pods", "-l", selectorText(selector)]);
    const ready = pods.items.find((p) => !p.metadata.deletionTimestamp && p.status.podIP && (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"));
    return ready?.status.podIP;
}

/** The IP of a Ready pod matching `selector` in `namespace`. */
export function readyPodIp(k: KubectlTarget, namespace: string, selector: Readonly<Record<string, string>>): string {
    const ip = readyPodIpOrUndefined(k, namespace, selector);
    if (ip === undefined) throw new Error(`no Ready pod with ${selectorText(selector)} in ${namespace}`);
    return ip;
}

export interface Attempt {
    readonly kind: "tcp" | "dns-udp" | "dns-tcp";
    readonly host: string;
    readonly port: number;
    /** The name a DNS attempt asks for. @default "kubernetes.default.svc.cluster.local" */
    readonly name?: string;
}
export interface AttemptResult extends Attempt {
    readonly ok: boolean;
    readonly error?: string;
    /** A DNS answer's response code and first A record. */
    readonly rcode?: string;
    readonly address?: string;
}

/** Asks the probe at `probeIp` to try each connection from inside its pod. */
export async function probe(probeIp: string, attempts: readonly Attempt[]): Promise<AttemptResult[]> {
    // One connection per request: nothing stays open to keep the caller's process alive.
    const res = await fetch(`http://${probeIp}:8080/probe`, {
        method: "POST",
        headers: { connection: "close" },
        body: JSON.stringify(attempts),
        signal: AbortSignal.timeout(20_000),
    });
    if (!res.ok) throw new Error(`probe ${probeIp}: HTTP ${res.status}: ${await res.text()}`);
    return (await res.json()) as AttemptResult[];
}

export interface Cell {
    /** netcheck's endpoint ids: `namespace/workload`. */
    readonly from: string;
    readonly to: string;
    /** netcheck's probe name: app, dns-udp, dns-tcp. */
    readonly probe: string;
    readonly port: number;
    readonly protocol: string;
    /** The connection went through. */
    readonly measured: boolean;
    readonly error?: string;
    /** netcheck's verdict; undefined when it has no cell for the pair. */
    readonly evaluated: boolean | undefined;
}

export interface Measurement {
    readonly cells: readonly Cell[];
    readonly mismatches: readonly Cell[];
    /** Whether the enforcer answers its health check; without it nothing is claimed. */
    readonly enforcer: { readonly running: boolean; readonly detail: string };
    /**
     * Workloads netcheck evaluated that have no Ready pod to connect to, so no connection to them
     * was tried: a candidate revision whose rollout failed runs beside the live one and never
     * becomes Ready. Each as `namespace/workload`.
     */
    readonly unmeasured: readonly string[];
    /** True only when the enforcer runs and every measured connection equals its verdict. */
    readonly ok: boolean;
    /** One line for people: isolated, not enforced, or how many connections differ. */
    readonly verdict: string;
}

export async function enforcerStatus(): Promise<Measurement["enforcer"]> {
    try {
        const res = await fetch(ENFORCER_HEALTH, { headers: { connection: "close" }, signal: AbortSignal.timeout(2000) });
        return res.ok ? { running: true, detail: "kube-router answers its health check" } : { running: false, detail: `kube-router's health check answered ${res.status}` };
    } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        return { running: false, detail: `kube-router does not answer its health check (${ENFORCER_HEALTH}: ${cause})` };
    }
}

/** `progression netcheck --kubeconfig K --json --matrix`: the verdict of every pair of live endpoints. */
export function netcheck(k: KubectlTarget): NetcheckReport {
    const run = spawnSync(path.join(REPO, "bin", "progression"), ["netcheck", "--kubeconfig", k.kubeconfig, ...(k.context ? ["--context", k.context] : []), "--json", "--matrix"], { encoding: "utf8" });
    if (run.status !== 0 && run.status !== 1) throw new Error(`progression netcheck failed (exit ${run.status}): ${run.stderr}`);
    return JSON.parse(run.stdout) as NetcheckReport;
}

/**
 * One round: every probe source tries every app of every environment on its app port, and the
 * cluster DNS on UDP and TCP 53; each result is set against netcheck's cell for the same pair.
 */
export async function measureOnce(k: KubectlTarget, probeIps: ReadonlyMap<string, string>): Promise<Measurement> {
    const report = netcheck(k);
    const probesByName = new Map(report.probes.map((p) => [p.name, p]));
    const workloadIp = new Map<string, string | undefined>();
    /** A Ready pod's IP of the workload, or undefined when it has none. */
    const ipOf = (id: string): string | undefined => {
        if (workloadIp.has(id)) return workloadIp.get(id);
        const [namespace, name] = id.split("/") as [string, string];
        const d = kubectlJson<DeploymentJson>(k, ["-n", namespace, "get", "deployment", name]);
        const ip = readyPodIpOrUndefined(k, namespace, d.spec.selector.matchLabels);
        workloadIp.set(id, ip);
        return ip;
    };
    const unmeasured: string[] = [];
    const targets: { to: string; probe: string; host: string }[] = [];
    for (const env of report.environments) {
        for (const app of env.apps) {
            const host = ipOf(app.pod);
            if (host === undefined) unmeasured.push(app.pod);
            else targets.push({ to: app.pod, probe: app.probe, host });
        }
    }
    for (const dns of report.dns) {
        // The cluster DNS must answer: without it every measurement is meaningless.
        const host = ipOf(dns);
        if (host === undefined) throw new Error(`no Ready pod of the cluster DNS ${dns}`);
        for (const p of ["dns-udp", "dns-tcp"]) targets.push({ to: dns, probe: p, host });
    }
    const cellOf = new Map(report.cells.map((c) => [`${c.from}|${c.to}|${c.probe}`, c.allowed]));

    const cells: Cell[] = [];
    await Promise.all(
        [...probeIps].map(async ([namespace, probeIp]) => {
            const from = `${namespace}/${PROBE_NAME}`;
            const wanted = targets.filter((t) => t.to !== from);
            const attempts = wanted.map((t): Attempt => {
                const p = probesByName.get(t.probe)!;
                return { kind: t.probe === "dns-udp" ? "dns-udp" : t.probe === "dns-tcp" ? "dns-tcp" : "tcp", host: t.host, port: p.port };
            });
            const results = await probe(probeIp, attempts);
            results.forEach((r, i) => {
                const t = wanted[i]!;
                const p = probesByName.get(t.probe)!;
                cells.push({
                    from,
                    to: t.to,
                    probe: t.probe,
                    port: p.port,
                    protocol: p.protocol,
                    measured: r.ok,
                    ...(r.ok ? {} : { error: r.error ?? "failed" }),
                    evaluated: cellOf.get(`${from}|${t.to}|${t.probe}`),
                });
            });
        }),
    );
    cells.sort((a, b) => `${a.from}|${a.to}|${a.probe}`.localeCompare(`${b.from}|${b.to}|${b.probe}`));
    const mismatches = cells.filter((c) => c.measured !== c.evaluated);
    const enforcer = await enforcerStatus();
    const ok = enforcer.running && mismatches.length === 0;
    const denied = cells.filter((c) => c.evaluated === false);
    const leaked = mismatches.filter((c) => c.measured && c.evaluated === false);
    unmeasured.sort();
    const verdict =
        (!enforcer.running
            ? `NetworkPolicies are NOT enforced: ${enforcer.detail}. No isolation is claimed; start it with cluster/cluster.sh up.` +
              (leaked.length > 0 ? ` ${leaked.length} of ${denied.length} connections the policies deny went through.` : "")
            : mismatches.length === 0
              ? `measured = evaluated: all ${cells.length} connections match netcheck's verdicts (${denied.length} denied, ${cells.length - denied.length} allowed)`
              : `${mismatches.length} of ${cells.length} connections differ from netcheck's verdicts` +
                (leaked.length > 0 ? `; ${leaked.length} the policies deny went through, so they are not (yet) enforced` : "")) +
        (unmeasured.length > 0 ? `; not measured, no Ready pod to connect to: ${unmeasured.join(", ")}` : "");
    return { cells, mismatches, enforcer, unmeasured, ok, verdict };
}

/**
 * Measures until the result matches netcheck or `deadlineMs` passes: the enforcer applies new
 * pods and policies within seconds, not at once. Returns the last measurement.
 */
export async function measure(k: KubectlTarget, probeIps: ReadonlyMap<string, string>, deadlineMs = 30_000): Promise<Measurement> {
    const until = Date.now() + deadlineMs;
    for (;;) {
        const m = await measureOnce(k, probeIps);
        if (m.ok || !m.enforcer.running || Date.now() > until) return m;
        await new Promise((r) => setTimeout(r, 1000));
    }
}

export function renderMeasurement(m: Measurement): string {
    const lines = [`${"from".padEnd(26)} ${"to".padEnd(26)} ${"probe".padEnd(8)} ${"measured".padEnd(20)} netcheck`];
    for (const c of m.cells) {
        const measured = c.measured ? "connected" : `blocked (${c.error ?? "?"})`;
        const evaluated = c.evaluated === undefined ? "no verdict" : c.evaluated ? "allowed" : "denied";
        const mark = c.measured === c.evaluated ? "" : "   <-- differs";
        lines.push(`${c.from.padEnd(26)} ${c.to.padEnd(26)} ${c.probe.padEnd(8)} ${measured.padEnd(20)} ${evaluated}${mark}`);
    }
    lines.push("", m.verdict);
    return lines.join("\n") + "\n";
}

/**
 * The standard sources: each environment's namespace, the ingress controller's namespace, and a
 * namespace that copies the last environment's namespace labels and its app pods' labels.
 */
export function standardSources(k: KubectlTarget, report: NetcheckReport, spoofName = "spoof"): ProbeSource[] {
    const plain = { "app.kubernetes.io/name": PROBE_NAME, "app.kubernetes.io/part-of": "env-progression" };
    const sources: ProbeSource[] = report.environments.map((e) => ({ namespace: e.namespace, labels: plain }));
    sources.push({ namespace: report.ingressController.namespace, labels: plain });
    const target = report.environments.at(-1);
    if (target) {
        const ns = kubectlJson<{ metadata: { labels: Labels } }>(k, ["get", "namespace", target.namespace]);
        const nsLabels = Object.fromEntries(Object.entries(ns.metadata.labels).filter(([key]) => key !== NAMESPACE_NAME));
        const app = target.apps[0]?.pod;
        const podLabels = app ? kubectlJson<DeploymentJson>(k, ["-n", target.namespace, "get", "deployment", app.split("/")[1]!]).spec.template.metadata.labels : plain;
        sources.push({ namespace: spoofName, labels: podLabels, createNamespace: nsLabels });
    }
    return sources;
}

async function main(argv: string[]): Promise<number> {
    const { values } = parseArgs({
        args: argv,
        options: { kubeconfig: { type: "string", default: path.join(REPO, ".local", "kubeconfig") }, context: { type: "string" }, keep: { type: "boolean", default: false } },
    });
    const doc = parse(fs.readFileSync(values.kubeconfig, "utf8")) as { "current-context": string };
    const k: KubectlTarget = { kubeconfig: values.kubeconfig, context: values.context ?? doc["current-context"] };
    const tools = kubectlJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(k, ["-n", REAL_NODE.ingressNamespace, "get", "deployment", "controller"]).spec
        .template.spec.containers[0]!.image;
    const sources = standardSources(k, netcheck(k));
    process.stdout.write(`probes in ${sources.map((s) => s.namespace).join(", ")}; ${sources.at(-1)!.namespace} copies ${sources.at(-3)?.namespace ?? "?"}'s labels\n`);
    try {
        const ips = deployProbes(k, tools, sources);
        const m = await measure(k, ips);
        process.stdout.write(renderMeasurement(m));
        return m.ok ? 0 : 1;
    } finally {
        if (!values.keep) removeProbes(k, sources);
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            process.stderr.write(`isolation: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 2;
        },
    );
}
