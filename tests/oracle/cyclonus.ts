// Runs cyclonus (`analyze --mode query-traffic`) as an independent judge of exactly the cells our
// evaluator computed, and parses its per-traffic tables back into verdicts. cyclonus is fed what
// the API server would store: policies with policyTypes defaulted, named ports resolved against
// the destination pod (it takes the resolved name as an input).
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type ClusterModel, type Labels, type MatrixCell, NAMESPACE_NAME_LABEL } from "../../netpol";

const REPO = path.resolve(__dirname, "../..");

/** The path toolchain/oracle.sh builds to (it prints it without building when given --path). */
export function cyclonusPath(): string {
    return execFileSync(path.join(REPO, "toolchain/oracle.sh"), ["--path"], { encoding: "utf8" }).trim();
}

export interface OracleVerdict {
    readonly ingress: boolean;
    readonly egress: boolean;
    readonly allowed: boolean;
    /** cyclonus's own rendering of this traffic and its verdict, for failure messages. */
    readonly text: string;
}

/** The API server's defaulting of policyTypes, which cyclonus expects to have happened. */
export function withDefaultedTypes(policy: Record<string, unknown>): Record<string, unknown> {
    const spec = policy["spec"] as Record<string, unknown>;
    const types = spec["policyTypes"];
    if (Array.isArray(types) && types.length > 0) return policy;
    const egress = Array.isArray(spec["egress"]) && spec["egress"].length > 0;
    return { ...policy, spec: { ...spec, policyTypes: egress ? ["Ingress", "Egress"] : ["Ingress"] } };
}

interface Peer {
    Internal?: { PodLabels: Labels; NamespaceLabels: Labels; Namespace: string };
    IP: string;
}

/** cyclonus's Traffic objects for our cells, in the same order. */
export function trafficFor(model: ClusterModel, cells: readonly MatrixCell[]): unknown[] {
    const nsLabels = new Map(model.namespaces.map((n) => [n.name, { ...(n.labels ?? {}), [NAMESPACE_NAME_LABEL]: n.name }]));
    const pods = new Map(model.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    const externals = new Map((model.externals ?? []).map((e) => [`external:${e.name}`, e]));
    const peer = (id: string): Peer => {
        const pod = pods.get(id);
        if (pod) return { Internal: { PodLabels: pod.labels ?? {}, NamespaceLabels: nsLabels.get(pod.namespace) ?? {}, Namespace: pod.namespace }, IP: pod.ip };
        const ext = externals.get(id);
        if (!ext) throw new Error(`unknown endpoint ${id}`);
        return { IP: ext.ip };
    };
    return cells.map((c) => {
        // The destination's container port of that number AND protocol names the traffic's port.
        const named = pods.get(c.to)?.ports?.find((p) => p.containerPort === c.port && (p.protocol ?? "TCP") === c.protocol)?.name ?? "";
        return { Source: peer(c.from), Destination: peer(c.to), ResolvedPort: c.port, ResolvedPortName: named, Protocol: c.protocol };
    });
}

/** Parses `analyze --mode query-traffic` output: one verdict per traffic, in input order. */
export function parseQueryTraffic(output: string): OracleVerdict[] {
    const blocks = output.split(/^Is traffic allowed\?$/m).slice(1);
    return blocks.map((block) => {
        const table = block.split(/^Traffic:$/m)[0] as string;
        let current = "";
        const actions: Record<string, Set<string>> = { Ingress: new Set(), Egress: new Set() };
        let footer: boolean | undefined;
        for (const line of table.split("\n")) {
            const f = /^\|\s*IS ALLOWED\?\s*\|\s*(TRUE|FALSE)\s*\|/i.exec(line);
            if (f) {
                footer = (f[1] as string).toUpperCase() === "TRUE";
                continue;
            }
            if (!line.startsWith("|")) continue;
            const cols = line.split("|").map((s) => s.trim());
            const type = cols[1] ?? "";
            const action = cols[2] ?? "";
            if (type === "Ingress" || type === "Egress") current = type;
            if ((action === "Allow" || action === "Deny") && current) actions[current]?.add(action);
        }
        if (footer === undefined) throw new Error(`cyclonus output block without a verdict:\n${table}`);
        const dir = (d: string) => actions[d]?.has("Allow") === true || actions[d]?.has("Deny") !== true;
        const ingress = dir("Ingress");
        const egress = dir("Egress");
        if ((ingress && egress) !== footer)
            throw new Error(`cyclonus block parsed inconsistently (ingress ${ingress}, egress ${egress}, verdict ${footer}):\n${table}`);
        return { ingress, egress, allowed: footer, text: table.trim() };
    });
}

/** Runs cyclonus on one policy set and the traffic for `cells`; resolves to its verdicts. */
export async function runCyclonus(bin: string, model: ClusterModel, policies: readonly unknown[], cells: readonly MatrixCell[]): Promise<OracleVerdict[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netpol-oracle-"));
    try {
        const list = {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicyList",
            items: policies.map((p) => withDefaultedTypes(p as Record<string, unknown>)),
        };
        // JSON is YAML; cyclonus parses the file strictly, so only API fields may appear.
        fs.writeFileSync(path.join(dir, "policies.yaml"), JSON.stringify(list));
        fs.writeFileSync(path.join(dir, "traffic.json"), JSON.stringify(trafficFor(model, cells)));
        const args = [
            "analyze",
            "--mode",
            "query-traffic",
            "--policy-path",
            path.join(dir, "policies.yaml"),
            "--traffic-path",
            path.join(dir, "traffic.json"),
            // Its simplifier merges matchers (with port-range TODOs); the raw matchers are its semantics.
            "--simplify-policies=false",
            "-v",
            "error",
        ];
        const stdout = await new Promise<string>((resolve, reject) => {
            execFile(bin, args, { maxBuffer: 1 << 30 }, (err, out, errOut) => {
                if (err) reject(new Error(`cyclonus failed (${err.message}):\n${errOut}\npolicies:\n${JSON.stringify(list, null, 1)}`));
                else resolve(out);
            });
        });
        const verdicts = parseQueryTraffic(stdout);
        if (verdicts.length !== cells.length) throw new Error(`cyclonus answered ${verdicts.length} traffics for ${cells.length} asked`);
        return verdicts;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
