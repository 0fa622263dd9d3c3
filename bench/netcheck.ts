// netcheck at 10, 100, 1,000 and 5,000 namespaces (5 workloads and the project's 4 policies per
// namespace): wall time and peak memory of `progression netcheck --manifests DIR`, against
// cyclonus's synthetic probe (`analyze --mode probe`) over the same pods, labels, ports and
// policies. Each tool stops at a time and a memory limit; a run that hits one is recorded as such.
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { isolationModelFromManifests, NAMESPACE_NAME_LABEL } from "../netpol";
import { namespaceObjects, writeScaledManifests } from "./netcheck-fixture";
import { log, type Recorder, timed } from "./lib";

export const SIZES = [10, 100, 1000, 5000] as const;
const WORKLOADS_PER_NAMESPACE = 5;
const LIMIT_MS = 120_000;
const LIMIT_MIB = 4096;

interface Inputs {
    readonly manifests: string;
    readonly policies: string;
    readonly probeModel: string;
}

/** The manifests, and the same cluster as cyclonus reads it: a policy directory and a probe model. */
function inputs(work: string, namespaces: number): Inputs {
    const dir = path.join(work, `netcheck-${namespaces}`);
    const done = path.join(dir, ".complete");
    const result = { manifests: path.join(dir, "manifests"), policies: path.join(dir, "policies"), probeModel: path.join(dir, "probe.json") };
    if (fs.existsSync(done)) return result;
    writeScaledManifests(result.manifests, { namespaces, workloadsPerNamespace: WORKLOADS_PER_NAMESPACE });
    const objects = Array.from({ length: namespaces }, (_, i) => namespaceObjects(i, WORKLOADS_PER_NAMESPACE)).flat();
    const { model, policies } = isolationModelFromManifests(objects);
    fs.mkdirSync(result.policies, { recursive: true });
    // One file per namespace, as in the manifests.
    const byNs = new Map<string, unknown[]>();
    for (const p of policies as { metadata: { namespace: string } }[]) byNs.set(p.metadata.namespace, [...(byNs.get(p.metadata.namespace) ?? []), p]);
    for (const [ns, list] of byNs) fs.writeFileSync(path.join(result.policies, `${ns}.yaml`), list.map((p) => stringify(p)).join("---\n"));
    const nsLabels = Object.fromEntries(model.namespaces.map((n) => [n.name, { ...(n.labels ?? {}), [NAMESPACE_NAME_LABEL]: n.name }]));
    const probeModel = {
        Resources: {
            Namespaces: nsLabels,
            Pods: model.pods.map((p) => ({
                Namespace: p.namespace,
                Name: p.name,
                Labels: p.labels ?? {},
                IP: p.ip,
                Containers: (p.ports ?? []).map((c, i) => ({ Name: `c${i}`, Port: c.containerPort, Protocol: c.protocol ?? "TCP", PortName: c.name ?? "" })),
            })),
        },
        Probes: model.probes.map((p) => ({ Protocol: p.protocol, Port: p.port })),
    };
    fs.writeFileSync(result.probeModel, JSON.stringify(probeModel));
    fs.writeFileSync(done, "");
    return result;
}

export interface NetcheckOptions {
    readonly runs: number;
    readonly repo: string;
    readonly cyclonus: string | undefined;
    readonly sizes: readonly number[];
}

export async function netcheckScenarios(work: string, rec: Recorder, opts: NetcheckOptions): Promise<void> {
    const bin = path.join(opts.repo, "bin", "progression");
    for (const n of opts.sizes) {
        const input = inputs(work, n);
        // The largest sizes take long with some tools: fewer runs there.
        const runs = n >= 5000 ? 1 : n >= 1000 ? Math.min(opts.runs, 3) : opts.runs;
        const label = `${n.toLocaleString("en-US")} namespaces`;
        let ours: string | undefined;
        for (let r = 1; r <= runs && ours === undefined; r++) {
            log(`netcheck ${label} run ${r}/${runs}`);
            const t = await timed(process.execPath, [bin, "netcheck", "--manifests", input.manifests], {
                memory: true,
                limitMs: LIMIT_MS,
                limitMiB: LIMIT_MIB,
            });
            // Exit 0 or 1 is a verdict; anything else (a crash, a limit) is not.
            if (t.timedOut || t.overMemory || (t.code !== 0 && t.code !== 1)) {
                ours = t.timedOut
                    ? `stopped at ${LIMIT_MS / 1000} s`
                    : t.overMemory
                      ? `stopped at ${LIMIT_MIB} MiB`
                      : `crashed (exit ${t.code}): ${lastLine(t.stderr)}`;
                break;
            }
            rec.add(`netcheck.${n}.time`, `progression netcheck, ${label}`, "s", t.seconds);
            if (t.peakMiB !== undefined) rec.add(`netcheck.${n}.memory`, `progression netcheck, ${label}: peak memory`, "MiB", t.peakMiB);
        }
        if (ours !== undefined) {
            rec.note(`netcheck.${n}.time`, `progression netcheck, ${label}`, "s", ours);
            rec.note(`netcheck.${n}.memory`, `progression netcheck, ${label}: peak memory`, "MiB", ours);
        }
        if (!opts.cyclonus) {
            rec.note(`cyclonus.${n}.time`, `cyclonus analyze --mode probe, ${label}`, "s", "cyclonus not built (toolchain/oracle.sh failed)");
            continue;
        }
        let theirs: string | undefined;
        const cyclonusRuns = n >= 1000 ? 1 : runs;
        for (let r = 1; r <= cyclonusRuns && theirs === undefined; r++) {
            log(`cyclonus ${label} run ${r}/${cyclonusRuns}`);
            const t = await timed(
                opts.cyclonus,
                ["analyze", "--mode", "probe", "--policy-path", input.policies, "--probe-path", input.probeModel, "-v", "error"],
                {
                    memory: true,
                    limitMs: LIMIT_MS,
                    limitMiB: LIMIT_MIB,
                },
            );
            if (t.timedOut || t.overMemory || t.code !== 0) {
                theirs = t.timedOut
                    ? `stopped at ${LIMIT_MS / 1000} s`
                    : t.overMemory
                      ? `stopped at ${LIMIT_MIB} MiB`
                      : `failed (exit ${t.code}): ${lastLine(t.stderr)}`;
                break;
            }
            rec.add(`cyclonus.${n}.time`, `cyclonus analyze --mode probe, ${label}`, "s", t.seconds);
            if (t.peakMiB !== undefined) rec.add(`cyclonus.${n}.memory`, `cyclonus analyze --mode probe, ${label}: peak memory`, "MiB", t.peakMiB);
        }
        if (theirs !== undefined) {
            rec.note(`cyclonus.${n}.time`, `cyclonus analyze --mode probe, ${label}`, "s", theirs);
            rec.note(`cyclonus.${n}.memory`, `cyclonus analyze --mode probe, ${label}: peak memory`, "MiB", theirs);
        }
    }
}

function lastLine(text: string): string {
    return (
        text
            .trim()
            .split("\n")
            .filter((l) => l.trim() !== "")
            .pop()
            ?.slice(0, 200) ?? ""
    );
}
