// Network: who may reach the app (the ingress controller's namespace) and where it may reach
// beyond its namespace and DNS (egress CIDRs). CIDRs are parsed by the same code the
// NetworkPolicy evaluator uses, so what config accepts, `progression netcheck` understands.
import { type Cidr, parseCidr } from "../../netpol/cidr";
import { ENVIRONMENTS } from "../environments";
import { type ConfigReader, PROJECT, show } from "../reader";
import type { Identity } from "./identity";

export interface EgressRule {
    readonly cidr: string;
    readonly port: number | undefined;
    readonly protocol: "TCP" | "UDP";
}

export interface NetworkConfig {
    readonly ingressNamespace: string;
    readonly egress: readonly EgressRule[];
}

const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const EGRESS = /^([^/]+\/\d{1,3})(?::(\d{1,5})(?:\/(TCP|UDP))?)?$/;

/** An egress rule, or why the text is not one. */
export function parseEgress(text: string): EgressRule | { error: string; fixes?: string[] } {
    const m = EGRESS.exec(text.trim());
    if (!m) return { error: "is not an egress rule" };
    const cidr = parseCidr(m[1]!);
    if (!cidr) return { error: `has no valid CIDR: ${show(m[1])} is not an IPv4 or IPv6 address with a prefix length (at most 32 or 128)` };
    const address = m[1]!.split("/")[0]!;
    if (!sameAddress(address, cidr)) {
        // `10.0.0.1/8` reads as one host but admits the whole /8: name both meanings.
        const network = `${formatAddress(cidr)}/${cidr.prefix}`;
        const rest = text.trim().slice(m[1]!.length);
        return {
            error: `has host bits set: ${m[1]} means the whole network ${network}`,
            fixes: [`${network}${rest}`, `${address}/${cidr.family === 4 ? 32 : 128}${rest}`],
        };
    }
    const port = m[2] === undefined ? undefined : Number(m[2]);
    if (port !== undefined && (port < 1 || port > 65535)) return { error: `has port ${port}, outside 1-65535` };
    return { cidr: m[1]!, port, protocol: (m[3] as "TCP" | "UDP" | undefined) ?? "TCP" };
}

/**
 * Keys: ingressNamespace, egress. The app's NetworkPolicy admits every pod of ingressNamespace, so
 * it may not name an environment's namespace (this stack's, or the default one of any environment
 * of this app): every pod there would be admitted.
 */
export function validateNetwork(read: ConfigReader, id: Pick<Identity, "appName" | "namespace">): NetworkConfig {
    const ingressNamespace = read.string("ingressNamespace", "ingress-nginx");
    const environmentNamespaces = ENVIRONMENTS.map((e) => `${id.appName}-${e}`);
    if (!RFC1123_LABEL.test(ingressNamespace) || ingressNamespace.length > 63) {
        read.problem(`${PROJECT}:ingressNamespace: ${show(ingressNamespace)} is not a namespace name. Allowed: an RFC 1123 label. Fix: ${read.fix("ingressNamespace", "ingress-nginx")}`);
    } else if (ingressNamespace === id.namespace || environmentNamespaces.includes(ingressNamespace)) {
        const what = ingressNamespace === id.namespace ? "this stack's own namespace" : "an environment's namespace";
        const own = environmentNamespaces.includes(id.namespace) ? "" : ` ${id.namespace}`;
        read.problem(
            `${PROJECT}:ingressNamespace: ${show(ingressNamespace)} is ${what}, and every pod of ingressNamespace may reach the app, so every pod there would be admitted. ` +
                `Allowed: the ingress controller's own namespace, not ${environmentNamespaces.join(", ")} or this stack's namespace${own}. ` +
                `Fix: ${read.fix("ingressNamespace", "ingress-nginx")}`,
        );
    }
    const egress: EgressRule[] = [];
    read.list("egress").forEach((item, i) => {
        const rule = typeof item === "string" ? parseEgress(item) : { error: "is not an egress rule" };
        if ("error" in rule) {
            read.problem(
                `${PROJECT}:egress: ${show(item)} ${rule.error}. Allowed: "CIDR", "CIDR:PORT" or "CIDR:PORT/UDP" with an IPv4 or IPv6 network, e.g. "10.20.0.0/16:5432" or "fd00:20::/64:5432". ` +
                    `Fix: ${(rule.fixes ?? ["10.20.0.0/16:5432"]).map((f) => read.fix(`egress[${i}]`, f, { path: true })).join(", or ")}`,
            );
        } else {
            egress.push(rule);
        }
    });
    return { ingressNamespace, egress };
}

function sameAddress(text: string, cidr: Cidr): boolean {
    const host = parseCidr(`${text}/${cidr.family === 4 ? 32 : 128}`);
    return host !== undefined && host.network === cidr.network;
}

/** The network address in canonical text: dotted quad, or RFC 5952 compressed IPv6. */
function formatAddress(cidr: Cidr): string {
    if (cidr.family === 4) {
        return [24n, 16n, 8n, 0n].map((shift) => String((cidr.network >> shift) & 0xffn)).join(".");
    }
    const groups = Array.from({ length: 8 }, (_, i) => Number((cidr.network >> BigInt(112 - 16 * i)) & 0xffffn));
    // The longest run of two or more zero groups becomes "::".
    let best = { at: -1, len: 0 };
    for (let i = 0; i < 8; ) {
        if (groups[i] !== 0) {
            i += 1;
            continue;
        }
        let j = i;
        while (j < 8 && groups[j] === 0) j += 1;
        if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
        i = j;
    }
    const hex = groups.map((g) => g.toString(16));
    if (best.at < 0) return hex.join(":");
    return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}
