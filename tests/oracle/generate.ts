// Random NetworkPolicy sets over a fixed model, from a seeded PRNG so any failure reproduces from
// its seed. The generator covers what the evaluator claims: pod and namespace selectors with
// matchLabels and all four operators, empty vs absent selectors, AND (one peer) vs OR (two peers),
// ipBlocks with except in IPv4 and IPv6, numeric, named and ranged ports on TCP, UDP and SCTP,
// absent / partial policyTypes, empty rules, and several policies stacking on a pod.
//
// One fence, for a demonstrated cyclonus v0.5.6 deviation: its NotIn does not match an object
// that lacks the key (pkg/kube/labelselector.go: "even for NotIn -- if the key isn't there, it's
// not a match"), while apimachinery's labels.Requirement.Matches returns true for a missing key
// and the Kubernetes docs say `notin` selects "all resources without a label with the ... key".
// So NotIn is only generated on keys every pod (app, tier) or namespace (tier, the name label)
// carries; our missing-key semantics are pinned by the unit tests instead.
import { type ClusterModel, parseCidr, parseIp, type Probe } from "../../netpol";

export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough to spread test cases. */
export function mulberry32(seed: number): Rng {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const some = <T>(rng: Rng, xs: readonly T[], min: number, max: number): T[] => {
    const pool = [...xs];
    const out: T[] = [];
    for (let n = int(rng, min, Math.min(max, pool.length)); n > 0; n--) out.push(pool.splice(Math.floor(rng() * pool.length), 1)[0] as T);
    return out;
};

/**
 * The fixed model: environments plus system namespaces, an IPv6 pod, a pod whose `http` is 8081
 * (named ports resolve per pod), an SCTP and a UDP port, and three addresses outside the cluster.
 * Within a pod, each (port, protocol) has one name, so a traffic's port name is unambiguous.
 */
export const ORACLE_MODEL: ClusterModel = {
    namespaces: [
        { name: "dev", labels: { environment: "dev", tier: "app", team: "blue" } },
        { name: "staging", labels: { environment: "staging", tier: "app", team: "green" } },
        { name: "prod", labels: { environment: "prod", tier: "app" } },
        { name: "kube-system", labels: { tier: "system" } },
        { name: "ingress-nginx", labels: { tier: "edge", team: "blue" } },
        { name: "attacker", labels: { environment: "prod", tier: "app" } },
    ],
    pods: [
        {
            namespace: "dev",
            name: "web",
            ip: "10.244.1.10",
            labels: { app: "web", tier: "frontend", environment: "dev" },
            ports: [
                { name: "http", containerPort: 8080 },
                { name: "metrics", containerPort: 9090 },
            ],
        },
        {
            namespace: "dev",
            name: "db",
            ip: "10.244.1.11",
            labels: { app: "db", tier: "backend", role: "primary" },
            ports: [{ name: "pg", containerPort: 5432 }],
        },
        {
            namespace: "staging",
            name: "web",
            ip: "10.244.2.10",
            labels: { app: "web", tier: "frontend", environment: "staging" },
            ports: [
                { name: "http", containerPort: 8080 },
                { name: "metrics", containerPort: 9090 },
            ],
        },
        {
            namespace: "prod",
            name: "web",
            ip: "10.244.3.10",
            labels: { app: "web", tier: "frontend", environment: "prod" },
            ports: [
                { name: "http", containerPort: 8081 },
                { name: "metrics", containerPort: 9090 },
            ],
        },
        {
            namespace: "prod",
            name: "worker",
            ip: "fd00:10:244:3::20",
            labels: { app: "worker", tier: "backend" },
            ports: [
                { name: "sig", containerPort: 3868, protocol: "SCTP" },
                { name: "stats", containerPort: 8125, protocol: "UDP" },
            ],
        },
        {
            namespace: "kube-system",
            name: "kube-dns",
            ip: "10.96.0.10",
            labels: { app: "dns", tier: "system", "k8s-app": "kube-dns" },
            ports: [
                { name: "dns", containerPort: 53, protocol: "UDP" },
                { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                { name: "metrics", containerPort: 9153 },
            ],
        },
        {
            namespace: "ingress-nginx",
            name: "controller",
            ip: "10.244.5.10",
            labels: { app: "ingress", tier: "edge" },
            ports: [
                { name: "http", containerPort: 80 },
                { name: "https", containerPort: 443 },
            ],
        },
        {
            namespace: "attacker",
            name: "web",
            ip: "10.244.6.10",
            labels: { app: "web", tier: "frontend", environment: "prod" },
            ports: [{ name: "http", containerPort: 8080 }],
        },
    ],
    externals: [
        { name: "internet", ip: "203.0.113.7" },
        { name: "database", ip: "192.168.50.5" },
        { name: "internet6", ip: "2001:db8::7" },
    ],
};

export const ORACLE_PROBES: readonly Probe[] = [
    { name: "tcp-8080", port: 8080, protocol: "TCP" },
    { name: "tcp-8081", port: 8081, protocol: "TCP" },
    { name: "tcp-9090", port: 9090, protocol: "TCP" },
    { name: "tcp-5432", port: 5432, protocol: "TCP" },
    { name: "udp-53", port: 53, protocol: "UDP" },
    { name: "tcp-53", port: 53, protocol: "TCP" },
    { name: "tcp-80", port: 80, protocol: "TCP" },
    { name: "sctp-3868", port: 3868, protocol: "SCTP" },
    { name: "udp-8125", port: 8125, protocol: "UDP" },
    // TCP on a port the worker serves only over UDP: a named port must match protocol too.
    { name: "tcp-8125", port: 8125, protocol: "TCP" },
];

const POD_KEYS: Record<string, readonly string[]> = {
    app: ["web", "db", "worker", "dns", "ingress", "nope"],
    tier: ["frontend", "backend", "system", "edge", "nope"],
    environment: ["dev", "staging", "prod"],
    role: ["primary", "replica"],
    "k8s-app": ["kube-dns"],
};
const POD_NOTIN_KEYS = ["app", "tier"];
const NS_KEYS: Record<string, readonly string[]> = {
    environment: ["dev", "staging", "prod", "qa"],
    tier: ["app", "system", "edge"],
    team: ["blue", "green"],
    "kubernetes.io/metadata.name": ["dev", "staging", "prod", "kube-system", "ingress-nginx", "attacker", "default"],
};
const NS_NOTIN_KEYS = ["tier", "kubernetes.io/metadata.name"];

function selector(rng: Rng, keys: Record<string, readonly string[]>, notInKeys: readonly string[]): Record<string, unknown> {
    const r = rng();
    if (r < 0.22) return {};
    const out: Record<string, unknown> = {};
    const names = Object.keys(keys);
    if (r < 0.65 || rng() < 0.3) {
        const labels: Record<string, string> = {};
        for (const k of some(rng, names, 1, 2)) labels[k] = pick(rng, keys[k] as readonly string[]);
        out["matchLabels"] = labels;
    }
    if (r >= 0.5) {
        const exprs = [];
        for (let n = int(rng, 1, 2); n > 0; n--) {
            const op = pick(rng, ["In", "In", "NotIn", "Exists", "DoesNotExist"] as const);
            const key = op === "NotIn" ? pick(rng, notInKeys) : pick(rng, names);
            exprs.push(op === "In" || op === "NotIn" ? { key, operator: op, values: some(rng, keys[key] as readonly string[], 1, 3) } : { key, operator: op });
        }
        out["matchExpressions"] = exprs;
    }
    return out;
}

function formatIp(family: 4 | 6, value: bigint): string {
    if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join(".");
    const groups: string[] = [];
    for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
    return groups.join(":");
}

const ADDRESSES = [...ORACLE_MODEL.pods.map((p) => p.ip), ...(ORACLE_MODEL.externals ?? []).map((e) => e.ip)];

function ipBlock(rng: Rng): Record<string, unknown> {
    let cidr: string;
    const r = rng();
    if (r < 0.15) cidr = pick(rng, ["0.0.0.0/0", "::/0", "10.0.0.0/8", "10.244.0.0/16", "fd00::/8", "203.0.113.0/24"]);
    else {
        const ip = pick(rng, ADDRESSES);
        const v6 = ip.includes(":");
        cidr = `${ip}/${v6 ? pick(rng, [16, 48, 64, 120, 128]) : pick(rng, [8, 16, 20, 24, 28, 31, 32])}`;
    }
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`generator made a bad CIDR ${cidr}`);
    const bits = parsed.family === 4 ? 32 : 128;
    const except: string[] = [];
    if (parsed.prefix < bits && rng() < 0.5) {
        for (let n = int(rng, 1, 2); n > 0; n--) {
            // Mostly carve out a model address inside the block, so except decides real cells.
            const inside = ADDRESSES.map((a) => parseIp(a)).filter(
                (a) => a && a.family === parsed.family && parseCidr(`${formatIp(a.family, a.value)}/${parsed.prefix}`)?.network === parsed.network,
            );
            const base = inside.length > 0 && rng() < 0.8 ? (pick(rng, inside) as { value: bigint }).value : parsed.network;
            const prefix = int(rng, parsed.prefix + 1, Math.min(bits, parsed.prefix + (rng() < 0.5 ? 4 : bits)));
            except.push(`${formatIp(parsed.family, base)}/${prefix}`);
        }
    }
    return except.length > 0 ? { cidr, except } : { cidr };
}

function peer(rng: Rng): Record<string, unknown> {
    const r = rng();
    if (r < 0.3) return { podSelector: selector(rng, POD_KEYS, POD_NOTIN_KEYS) };
    if (r < 0.55) return { namespaceSelector: selector(rng, NS_KEYS, NS_NOTIN_KEYS) };
    if (r < 0.8) return { namespaceSelector: selector(rng, NS_KEYS, NS_NOTIN_KEYS), podSelector: selector(rng, POD_KEYS, POD_NOTIN_KEYS) };
    return { ipBlock: ipBlock(rng) };
}

const PORT_NUMBERS = [...new Set(ORACLE_PROBES.map((p) => p.port)), 1, 8000, 65535];
const PORT_NAMES = ["http", "metrics", "pg", "dns", "dns-tcp", "sig", "stats", "https", "nosuch"];

function port(rng: Rng): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (rng() < 0.7) out["protocol"] = pick(rng, ["TCP", "TCP", "UDP", "SCTP"]);
    const r = rng();
    if (r < 0.2) return out;
    if (r < 0.65) out["port"] = pick(rng, PORT_NUMBERS);
    else if (r < 0.85) out["port"] = pick(rng, PORT_NAMES);
    else {
        const start = pick(rng, [1, 53, 80, 443, 3000, 5000, 8080, 9000]);
        out["port"] = start;
        out["endPort"] = Math.min(65535, start + pick(rng, [0, 1, 30, 1000, 5000, 60000]));
    }
    return out;
}

function rule(rng: Rng, peerKey: "from" | "to"): Record<string, unknown> {
    if (rng() < 0.12) return {};
    const out: Record<string, unknown> = {};
    const pr = rng();
    if (pr < 0.05) out[peerKey] = [];
    else if (pr >= 0.3) out[peerKey] = Array.from({ length: int(rng, 1, 3) }, () => peer(rng));
    const po = rng();
    if (po < 0.05) out["ports"] = [];
    else if (po >= 0.4) out["ports"] = Array.from({ length: int(rng, 1, 3) }, () => port(rng));
    return out;
}

/** One random policy set: 3-8 policies in the model's namespaces (mostly the environments). */
export function policySet(rng: Rng, setIndex: number): Record<string, unknown>[] {
    const namespaces = ["dev", "staging", "prod", "prod", "dev", "kube-system", "ingress-nginx", "attacker"];
    return Array.from({ length: int(rng, 3, 8) }, (_, i) => {
        // Four in ten select every pod of their namespace, so isolation (and denial) is common.
        const spec: Record<string, unknown> = { podSelector: rng() < 0.4 ? {} : selector(rng, POD_KEYS, POD_NOTIN_KEYS) };
        const t = rng();
        if (t < 0.03) spec["policyTypes"] = [];
        else if (t < 0.25) {
            // absent: the API server's defaulting decides
        } else if (t < 0.45) spec["policyTypes"] = ["Ingress"];
        else if (t < 0.65) spec["policyTypes"] = ["Egress"];
        else spec["policyTypes"] = rng() < 0.8 ? ["Ingress", "Egress"] : ["Egress", "Ingress"];
        const ni = rng() < 0.25 ? 0 : int(rng, 1, 3);
        const ne = rng() < 0.3 ? 0 : int(rng, 1, 3);
        // An empty list is not "rules present": with policyTypes absent, `egress: []` adds no Egress.
        if (ni > 0 || rng() < 0.3) spec["ingress"] = Array.from({ length: ni }, () => rule(rng, "from"));
        if (ne > 0 || rng() < 0.3) spec["egress"] = Array.from({ length: ne }, () => rule(rng, "to"));
        return {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: { name: `set${setIndex}-p${i}`, namespace: pick(rng, namespaces) },
            spec,
        };
    });
}
