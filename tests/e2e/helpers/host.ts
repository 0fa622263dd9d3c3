// The parts of this machine the real node may change, read back as text: the host test compares
// them before the node starts and after it is torn down. Also a command line, for measuring a
// whole `npm run demo` by hand:
//   npx tsx tests/e2e/helpers/host.ts save /tmp/before.json
//   npm run demo && npm run demo:down
//   npx tsx tests/e2e/helpers/host.ts diff /tmp/before.json     # exit 1 and the lines when they differ
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Section name -> its lines, each sorted. */
export type HostSnapshot = Record<string, string[]>;

/** Sysctls that move on their own (counters, random values): not the node's doing. */
const VOLATILE_SYSCTLS = /^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr|quota\.[a-z_]+)|kernel\.(ns_last_pid|random\.(uuid|entropy_avail))|net\.netfilter\.nf_conntrack_count) =/;
/** The node's own processes, which must all be gone after teardown (the control plane's names are shared with other local clusters). */
const NODE_PROCESSES = new Set(["kubelet", "kube-proxy", "kube-router", "containerd", "containerd-shim", "coredns", "pause"]);

function run(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
    if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${String(r.status)}: ${r.stderr.trim()}`);
    return r.stdout;
}

const lines = (text: string) =>
    text
        .split("\n")
        .map((l) => l.trimEnd())
        .filter((l) => l !== "");
const sorted = (xs: string[]) => [...xs].sort();

/** iptables-save without counters and comment lines: chains, policies and rules. */
function rules(save: string): string[] {
    let table = "";
    const out: string[] = [];
    for (const l of lines(save)) {
        if (l.startsWith("#") || l === "COMMIT") continue;
        if (l.startsWith("*")) {
            table = l.slice(1);
            continue;
        }
        out.push(`${table} ${l.replace(/ \[\d+:\d+\]$/, "")}`);
    }
    return sorted(out);
}

function cgroupDirs(): string[] {
    const root = "/sys/fs/cgroup";
    const out: string[] = [];
    const walk = (dir: string, depth: number) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            if (!e.isDirectory()) continue;
            const p = path.join(dir, e.name);
            out.push(p);
            if (depth < 2) walk(p, depth + 1);
        }
    };
    walk(root, 1);
    const control = path.join(root, "cgroup.subtree_control");
    if (fs.existsSync(control)) out.push(`subtree_control: ${fs.readFileSync(control, "utf8").trim()}`);
    return sorted(out);
}

function nodeProcesses(): string[] {
    const out: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        let comm: string;
        try {
            comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        } catch {
            continue;
        }
        const name = comm.startsWith("containerd-shim") ? "containerd-shim" : comm;
        if (NODE_PROCESSES.has(name)) out.push(`${comm} (pid ${pid})`);
    }
    return sorted(out);
}

/** What the node may touch on this machine, now. */
export function hostSnapshot(): HostSnapshot {
    return {
        iptables: rules(run("iptables-save", [])),
        ip6tables: rules(run("ip6tables-save", [])),
        ipsets: sorted(lines(run("ipset", ["save"]))),
        links: sorted(lines(run("ip", ["-o", "link", "show"])).map((l) => l.replace(/^\d+: /, "").replace(/ state \S+/, "").replace(/\\.*$/, ""))),
        addresses: sorted(lines(run("ip", ["-o", "addr", "show"])).map((l) => l.replace(/^\d+: /, "").replace(/\s+valid_lft.*$/, "").replace(/\\.*$/, ""))),
        routes: sorted(lines(run("ip", ["-4", "route", "show", "table", "all"]))),
        routes6: sorted(lines(run("ip", ["-6", "route", "show", "table", "all"]))),
        "routing rules": sorted(lines(run("ip", ["rule", "show"]))),
        mounts: sorted(
            lines(fs.readFileSync("/proc/self/mountinfo", "utf8")).map((l) => {
                const f = l.split(" ");
                const dash = f.indexOf("-");
                return `${f[4]} ${f[dash + 1]} ${f[dash + 2]}`;
            }),
        ),
        netns: fs.existsSync("/run/netns") ? sorted(fs.readdirSync("/run/netns")).map((n) => `/run/netns/${n}`) : ["(no /run/netns)"],
        cgroups: cgroupDirs(),
        sysctls: sorted(lines(spawnSync("sysctl", ["-a"], { encoding: "utf8", maxBuffer: 16 * 2 ** 20 }).stdout).filter((l) => !VOLATILE_SYSCTLS.test(l))),
        "node processes": nodeProcesses(),
    };
}

/** Each section's lines only in `before` (-) or only in `after` (+); empty when the host is as it was. */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot): string[] {
    const out: string[] = [];
    for (const section of new Set([...Object.keys(before), ...Object.keys(after)])) {
        const a = new Set(before[section] ?? []);
        const b = new Set(after[section] ?? []);
        for (const l of a) if (!b.has(l)) out.push(`${section}: - ${l}`);
        for (const l of b) if (!a.has(l)) out.push(`${section}: + ${l}`);
    }
    return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(__filename)) {
    const [verb, file] = process.argv.slice(2);
    if ((verb !== "save" && verb !== "diff") || !file) {
        process.stderr.write("usage: tsx tests/e2e/helpers/host.ts save FILE | diff FILE\n");
        process.exit(2);
    }
    if (verb === "save") {
        fs.writeFileSync(file, JSON.stringify(hostSnapshot(), null, 1));
    } else {
        const changed = diffSnapshots(JSON.parse(fs.readFileSync(file, "utf8")) as HostSnapshot, hostSnapshot());
        process.stdout.write(changed.length === 0 ? "the host is as it was\n" : `${changed.join("\n")}\n`);
        process.exitCode = changed.length === 0 ? 0 : 1;
    }
}
