// What the real node changes on this machine, read back as text before the bench's real-node
// cluster starts and after it is deleted: the firewall rules, the ipsets, the network links and
// the mounts. The bench leaves the machine as it found it, or says what differs.
// (tests/e2e/helpers/host.ts takes a wider snapshot, sysctls and cgroups included, for the e2e
// host test, which runs alone; these five hold what a bench run on a shared machine can compare.)
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";

/** Section name -> its lines, sorted. */
export type HostState = Record<string, string[]>;

function lines(cmd: string, args: readonly string[]): string[] {
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
    if (r.error) return [`(${cmd}: ${r.error.message})`];
    if (r.status !== 0) return [`(${cmd} ${args.join(" ")} exited ${String(r.status)}: ${r.stderr.trim()})`];
    return r.stdout
        .split("\n")
        .map((l) => l.trimEnd())
        .filter((l) => l !== "");
}

/** iptables-save's chains, policies and rules by table, without its comment lines and counters. */
function rules(save: readonly string[]): string[] {
    let table = "";
    const out: string[] = [];
    for (const l of save) {
        if (l.startsWith("#") || l === "COMMIT") continue;
        if (l.startsWith("*")) table = l.slice(1);
        else out.push(`${table} ${l.replace(/ \[\d+:\d+\]$/, "")}`);
    }
    return out;
}

/** `iptables-save`, `ip6tables-save`, `ipset list -n`, `ip -o link` and `findmnt -rn`, now. */
export function hostState(): HostState {
    const state: HostState = {
        iptables: rules(lines("iptables-save", [])),
        ip6tables: rules(lines("ip6tables-save", [])),
        ipsets: lines("ipset", ["list", "-n"]),
        links: lines("ip", ["-o", "link"]),
        mounts: lines("findmnt", ["-rn"]),
    };
    for (const k of Object.keys(state)) state[k]!.sort();
    return state;
}

/** The lines only before (-) or only after (+), by section; empty when the host is as it was. */
export function hostChanges(before: HostState, after: HostState): string[] {
    const out: string[] = [];
    for (const section of Object.keys(before)) {
        const a = new Set(before[section]);
        const b = new Set(after[section] ?? []);
        for (const l of a) if (!b.has(l)) out.push(`${section}: - ${l}`);
        for (const l of b) if (!a.has(l)) out.push(`${section}: + ${l}`);
    }
    return out;
}

/**
 * Why a real node cannot start here now, or undefined: this machine runs one real node at a time,
 * so a kubelet already running (another cluster's, a test's) means the bench must not start one.
 */
export function realNodeBusy(): string | undefined {
    let pids: string;
    try {
        pids = execFileSync("pgrep", ["-x", "kubelet"], { encoding: "utf8" }).trim().split("\n").join(", ");
    } catch {
        return undefined; // pgrep exits 1 when nothing matches
    }
    // cluster/node.sh records which cluster holds the node: "<name> <directory>".
    const owner = "/var/lib/env-progression/node/owner";
    const holder = fs.existsSync(owner) ? fs.readFileSync(owner, "utf8").trim().split(/\s+/)[0] : undefined;
    return (
        `a kubelet is running (pid ${pids})${holder ? `, the real node of cluster '${holder}'` : ""}, and this machine runs one real node at a time; ` +
        `stop it first (${holder ? `PROGRESSION_CLUSTER=${holder} cluster/cluster.sh down` : "cluster/cluster.sh down with its PROGRESSION_CLUSTER"}), or leave 'real' out of --only`
    );
}
