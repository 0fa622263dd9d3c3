// Validation and compilation of NetworkPolicies given as plain objects. Everything the API server
// would reject is reported (all problems at once), because a policy that cannot be applied
// protects nothing; what it would accept is compiled with its defaults made explicit.
import { type Cidr, cidrHasHostBits, cidrStrictlyWithin, parseCidr } from "./cidr";
import { type CompiledSelector, compileSelector, unknownFields } from "./selector";
import type { Direction, Protocol } from "./types";

export type CompiledPeer =
    | {
          readonly kind: "pods";
          /** `own`: no namespaceSelector, so only the policy's namespace. */
          readonly namespaces: CompiledSelector | "own";
          /** Absent podSelector compiles to the empty selector: every pod. */
          readonly pods: CompiledSelector;
          readonly text: string;
      }
    | { readonly kind: "ipBlock"; readonly cidr: Cidr; readonly except: readonly Cidr[]; readonly text: string };

export interface CompiledPort {
    readonly protocol: Protocol;
    /** Absent: every port of the protocol. */
    readonly port?: number;
    readonly endPort?: number;
    /** A named port, resolved against the destination pod's container ports. */
    readonly name?: string;
}

export interface CompiledRule {
    readonly direction: Direction;
    readonly index: number;
    /** `all`: `from`/`to` absent or empty, so every peer (in the cluster and outside). */
    readonly peers: readonly CompiledPeer[] | "all";
    /** `all`: `ports` absent or empty, so every port and protocol. */
    readonly ports: readonly CompiledPort[] | "all";
}

export interface CompiledPolicy {
    /** `namespace/name`. */
    readonly id: string;
    readonly namespace: string;
    readonly name: string;
    readonly podSelector: CompiledSelector;
    readonly ingress: boolean;
    readonly egress: boolean;
    /** True when policyTypes was absent and the API server's defaulting rule decided. */
    readonly typesDefaulted: boolean;
    readonly ingressRules: readonly CompiledRule[];
    readonly egressRules: readonly CompiledRule[];
}

export interface CompiledPolicies {
    readonly policies: readonly CompiledPolicy[];
    /** Accepted but suspicious: defaulted namespace, host bits in a CIDR, rules a missing policyType disables. */
    readonly warnings: readonly string[];
}

/** Every reason a set of policies would be rejected, one per line. */
export class PolicyValidationError extends Error {
    override name = "PolicyValidationError";
    constructor(readonly problems: readonly string[]) {
        super(`${problems.length} problem${problems.length === 1 ? "" : "s"} in NetworkPolicies:\n  - ${problems.join("\n  - ")}`);
    }
}

const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];
// IANA_SVC_NAME, as the API server validates named ports: 1-15 chars of a-z, 0-9 and '-', at
// least one letter, no leading, trailing or doubled hyphen.
const PORT_NAME = /^(?=.*[a-z])(?!-)(?!.*--)[a-z0-9-]{1,15}(?<!-)$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);
const isPort = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;

function compilePort(raw: unknown, at: string, problems: string[]): CompiledPort | undefined {
    if (!isRecord(raw)) {
        problems.push(`${at}: ${show(raw)} is not a port. Allowed: {protocol, port, endPort}`);
        return undefined;
    }
    unknownFields(raw, ["protocol", "port", "endPort"], at, problems);
    const protocol = raw["protocol"] ?? "TCP";
    if (typeof protocol !== "string" || !(PROTOCOLS as readonly string[]).includes(protocol)) {
        problems.push(`${at}.protocol: ${show(protocol)} is not a protocol. Allowed: TCP, UDP, SCTP (upper case; default TCP)`);
        return undefined;
    }
    const p = protocol as Protocol;
    const port = raw["port"];
    const endPort = raw["endPort"];
    if (port === undefined || port === null) {
        if (endPort !== undefined && endPort !== null) {
            problems.push(`${at}.endPort: ${show(endPort)} needs a numeric port. Fix: set port to the start of the range`);
            return undefined;
        }
        return { protocol: p };
    }
    if (typeof port === "string") {
        if (/^\d+$/.test(port)) {
            problems.push(
                `${at}.port: "${port}" is a string, so the API reads it as a port name, and a port name needs a letter. Fix: write the number unquoted (port: ${port})`,
            );
            return undefined;
        }
        if (!PORT_NAME.test(port)) {
            problems.push(
                `${at}.port: ${show(port)} is not a port name. Allowed: 1-15 lower-case letters, digits and single hyphens (IANA service name), or a number 1-65535`,
            );
            return undefined;
        }
        if (endPort !== undefined && endPort !== null) {
            problems.push(`${at}.endPort: ${show(endPort)} cannot follow the named port ${show(port)}. Fix: use numeric port and endPort for a range`);
            return undefined;
        }
        return { protocol: p, name: port };
    }
    if (!isPort(port)) {
        problems.push(`${at}.port: ${show(port)} is not a port. Allowed: an integer 1-65535 or a port name`);
        return undefined;
    }
    if (endPort === undefined || endPort === null) return { protocol: p, port };
    if (!isPort(endPort) || endPort < port) {
        problems.push(`${at}.endPort: ${show(endPort)} is not a port at or above port ${port}. Allowed: an integer ${port}-65535`);
        return undefined;
    }
    return { protocol: p, port, endPort };
}

function compilePeer(raw: unknown, at: string, problems: string[], warnings: string[]): CompiledPeer | undefined {
    if (!isRecord(raw)) {
        problems.push(`${at}: ${show(raw)} is not a peer. Allowed: podSelector and/or namespaceSelector, or ipBlock`);
        return undefined;
    }
    unknownFields(raw, ["podSelector", "namespaceSelector", "ipBlock"], at, problems);
    const has = (k: string) => raw[k] !== undefined && raw[k] !== null;
    if (has("ipBlock")) {
        if (has("podSelector") || has("namespaceSelector")) {
            problems.push(
                `${at}: ipBlock cannot be combined with podSelector or namespaceSelector in one peer. Fix: make them separate peers (which ORs them)`,
            );
            return undefined;
        }
        const block = raw["ipBlock"];
        if (!isRecord(block)) {
            problems.push(`${at}.ipBlock: ${show(block)} is not an ipBlock. Allowed: {cidr, except}`);
            return undefined;
        }
        unknownFields(block, ["cidr", "except"], `${at}.ipBlock`, problems);
        const cidrText = block["cidr"];
        const cidr = typeof cidrText === "string" ? parseCidr(cidrText) : undefined;
        if (!cidr) {
            problems.push(`${at}.ipBlock.cidr: ${show(cidrText)} is not a CIDR. Allowed: an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or fd00::/8`);
            return undefined;
        }
        if (cidrHasHostBits(cidrText as string)) {
            warnings.push(`${at}.ipBlock.cidr: ${show(cidrText)} has host bits set; it means ${show(cidrText)} masked to /${cidr.prefix}`);
        }
        const exceptRaw = block["except"] ?? [];
        if (!Array.isArray(exceptRaw)) {
            problems.push(`${at}.ipBlock.except: ${show(exceptRaw)} is not a list of CIDRs`);
            return undefined;
        }
        const except: Cidr[] = [];
        exceptRaw.forEach((e: unknown, j) => {
            const c = typeof e === "string" ? parseCidr(e) : undefined;
            if (!c) {
                problems.push(`${at}.ipBlock.except[${j}]: ${show(e)} is not a CIDR`);
            } else if (!cidrStrictlyWithin(c, cidr)) {
                problems.push(
                    `${at}.ipBlock.except[${j}]: ${show(e)} must be a strict subset of cidr ${show(cidrText)} (same family, longer prefix, inside it)`,
                );
            } else {
                except.push(c);
            }
        });
        const text = `ipBlock ${cidr.text}${except.length > 0 ? ` except ${except.map((c) => c.text).join(", ")}` : ""}`;
        return { kind: "ipBlock", cidr, except, text };
    }
    if (!has("podSelector") && !has("namespaceSelector")) {
        problems.push(
            `${at}: an empty peer selects nothing the API accepts. Fix: give podSelector, namespaceSelector or ipBlock (to allow everything, leave out from/to)`,
        );
        return undefined;
    }
    const pods = compileSelector(raw["podSelector"] ?? {}, `${at}.podSelector`, problems);
    const namespaces = has("namespaceSelector") ? compileSelector(raw["namespaceSelector"], `${at}.namespaceSelector`, problems) : "own";
    const nsText = namespaces === "own" ? "this namespace" : namespaces.empty ? "all namespaces" : `namespaces {${namespaces.text}}`;
    const podText = pods.empty ? "all pods" : `pods {${pods.text}}`;
    return { kind: "pods", namespaces, pods, text: `${podText} in ${nsText}` };
}

function compileRules(raw: unknown, direction: Direction, where: string, problems: string[], warnings: string[]): CompiledRule[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
        problems.push(`${where}.${direction}: ${show(raw)} is not a list of rules`);
        return [];
    }
    const peerKey = direction === "ingress" ? "from" : "to";
    return raw.flatMap((rule: unknown, index): CompiledRule[] => {
        const at = `${where}.${direction}[${index}]`;
        if (!isRecord(rule)) {
            problems.push(`${at}: ${show(rule)} is not a rule. Allowed: {${peerKey}, ports}`);
            return [];
        }
        unknownFields(rule, [peerKey, "ports"], at, problems);
        const rawPeers = rule[peerKey];
        const rawPorts = rule["ports"];
        let peers: CompiledPeer[] | "all" = "all";
        if (rawPeers !== undefined && rawPeers !== null) {
            if (!Array.isArray(rawPeers)) {
                problems.push(`${at}.${peerKey}: ${show(rawPeers)} is not a list of peers`);
            } else if (rawPeers.length > 0) {
                peers = rawPeers.flatMap((p: unknown, j) => compilePeer(p, `${at}.${peerKey}[${j}]`, problems, warnings) ?? []);
            }
        }
        let ports: CompiledPort[] | "all" = "all";
        if (rawPorts !== undefined && rawPorts !== null) {
            if (!Array.isArray(rawPorts)) {
                problems.push(`${at}.ports: ${show(rawPorts)} is not a list of ports`);
            } else if (rawPorts.length > 0) {
                ports = rawPorts.flatMap((p: unknown, j) => compilePort(p, `${at}.ports[${j}]`, problems) ?? []);
            }
        }
        return [{ direction, index, peers, ports }];
    });
}

/**
 * Validates and compiles NetworkPolicies given as plain objects (as in YAML). Throws
 * PolicyValidationError listing every problem when any policy would be rejected.
 */
export function compilePolicies(raw: readonly unknown[]): CompiledPolicies {
    const problems: string[] = [];
    const warnings: string[] = [];
    const policies: CompiledPolicy[] = [];
    const seen = new Set<string>();
    raw.forEach((obj, i) => {
        if (!isRecord(obj)) {
            problems.push(`policy #${i + 1}: ${show(obj)} is not an object`);
            return;
        }
        const meta = isRecord(obj["metadata"]) ? obj["metadata"] : {};
        const name = typeof meta["name"] === "string" && meta["name"] !== "" ? meta["name"] : undefined;
        let namespace = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? meta["namespace"] : undefined;
        const where = `NetworkPolicy ${namespace ?? "default"}/${name ?? `#${i + 1}`}`;
        if (obj["kind"] !== undefined && obj["kind"] !== "NetworkPolicy") {
            problems.push(`${where}: kind ${show(obj["kind"])} is not NetworkPolicy`);
            return;
        }
        if (obj["apiVersion"] !== undefined && obj["apiVersion"] !== "networking.k8s.io/v1") {
            problems.push(`${where}: apiVersion ${show(obj["apiVersion"])} is not served. Fix: use networking.k8s.io/v1`);
            return;
        }
        if (name === undefined) problems.push(`${where}: metadata.name is missing`);
        if (namespace === undefined) {
            // `kubectl apply -f` puts an un-namespaced object in the context's namespace, usually default.
            warnings.push(`${where}: no metadata.namespace; evaluated in namespace "default", as kubectl would apply it with the default context`);
            namespace = "default";
        }
        const id = `${namespace}/${name ?? `#${i + 1}`}`;
        if (seen.has(id)) problems.push(`${where}: defined twice; the second would replace the first`);
        seen.add(id);
        const spec = obj["spec"];
        if (!isRecord(spec)) {
            problems.push(`${where}: spec is missing or not an object`);
            return;
        }
        unknownFields(spec, ["podSelector", "policyTypes", "ingress", "egress"], `${where}.spec`, problems);
        const podSelector = compileSelector(spec["podSelector"] ?? {}, `${where}.spec.podSelector`, problems);
        const ingressRules = compileRules(spec["ingress"], "ingress", `${where}.spec`, problems, warnings);
        const egressRules = compileRules(spec["egress"], "egress", `${where}.spec`, problems, warnings);
        const rawTypes = spec["policyTypes"];
        let ingress: boolean;
        let egress: boolean;
        let typesDefaulted = false;
        if (rawTypes === undefined || rawTypes === null || (Array.isArray(rawTypes) && rawTypes.length === 0)) {
            // The API server's defaulting: Ingress always, Egress only when egress rules exist.
            typesDefaulted = true;
            ingress = true;
            egress = Array.isArray(spec["egress"]) && spec["egress"].length > 0;
        } else if (!Array.isArray(rawTypes) || rawTypes.some((t) => t !== "Ingress" && t !== "Egress")) {
            problems.push(`${where}.spec.policyTypes: ${show(rawTypes)} is not a list of policy types. Allowed: Ingress, Egress (capitalised)`);
            return;
        } else {
            ingress = rawTypes.includes("Ingress");
            egress = rawTypes.includes("Egress");
        }
        if (!ingress && ingressRules.length > 0) {
            warnings.push(`${where}: has ingress rules but policyTypes ${show(rawTypes)} lacks Ingress, so they are ignored`);
        }
        if (!egress && egressRules.length > 0) {
            warnings.push(`${where}: has egress rules but policyTypes ${show(rawTypes)} lacks Egress, so they are ignored`);
        }
        policies.push({
            id,
            namespace,
            name: name ?? `#${i + 1}`,
            podSelector,
            ingress,
            egress,
            typesDefaulted,
            ingressRules,
            egressRules,
        });
    });
    if (problems.length > 0) throw new PolicyValidationError(problems);
    return { policies, warnings };
}
