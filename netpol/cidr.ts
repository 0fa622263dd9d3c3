// IPv4 and IPv6 addresses and CIDRs as BigInts, for ipBlock matching. Written out rather than
// borrowed from node:net so the evaluator stays plain TypeScript and its edge cases (host bits
// set, IPv6 compression, embedded IPv4) are ours to test.

export interface IpAddress {
    readonly family: 4 | 6;
    readonly value: bigint;
}

export interface Cidr {
    readonly family: 4 | 6;
    /** The network address: host bits cleared, as the API server's parser does. */
    readonly network: bigint;
    readonly prefix: number;
    readonly text: string;
}

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function parseIpv4(text: string): bigint | undefined {
    const parts = text.split(".");
    if (parts.length !== 4) return undefined;
    let value = 0n;
    for (const part of parts) {
        // Leading zeros are refused: some parsers read them as octal, so the meaning is unclear.
        if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
        const n = Number(part);
        if (n > 255) return undefined;
        value = (value << 8n) | BigInt(n);
    }
    return value;
}

function parseIpv6(text: string): bigint | undefined {
    if (text.includes("%")) return undefined; // zone ids have no meaning in a policy
    const halves = text.split("::");
    if (halves.length > 2) return undefined;
    const groupsOf = (s: string): number[] | undefined => {
        if (s === "") return [];
        const out: number[] = [];
        const parts = s.split(":");
        for (let i = 0; i < parts.length; i++) {
            const part = parts[i] as string;
            if (i === parts.length - 1 && part.includes(".")) {
                const v4 = parseIpv4(part);
                if (v4 === undefined) return undefined;
                out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
            } else {
                if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
                out.push(parseInt(part, 16));
            }
        }
        return out;
    };
    const head = groupsOf(halves[0] as string);
    const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
    if (!head || !tail) return undefined;
    let groups: number[];
    if (halves.length === 2) {
        const missing = 8 - head.length - tail.length;
        if (missing < 1) return undefined;
        groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
    } else {
        groups = head;
    }
    if (groups.length !== 8) return undefined;
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseIp(text: string): IpAddress | undefined {
    const t = text.trim();
    if (t.includes(":")) {
        const value = parseIpv6(t);
        return value === undefined ? undefined : { family: 6, value };
    }
    const value = parseIpv4(t);
    return value === undefined ? undefined : { family: 4, value };
}

/** Parses `address/prefix`; undefined when malformed. Host bits may be set and are cleared. */
export function parseCidr(text: string): Cidr | undefined {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
    if (!m) return undefined;
    const ip = parseIp(m[1] as string);
    if (!ip) return undefined;
    const prefix = Number(m[2]);
    const bits = bitsOf(ip.family);
    if (prefix > bits || ((m[2] as string).length > 1 && (m[2] as string).startsWith("0"))) return undefined;
    const hostBits = BigInt(bits - prefix);
    const network = (ip.value >> hostBits) << hostBits;
    return { family: ip.family, network, prefix, text };
}

/** True when the address lies in the CIDR; addresses of the other family never do. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
    if (cidr.family !== ip.family) return false;
    const hostBits = BigInt(bitsOf(cidr.family) - cidr.prefix);
    return ip.value >> hostBits === cidr.network >> hostBits;
}

/** True when `inner` is a strict subset of `outer` (what the API server requires of `except`). */
export function cidrStrictlyWithin(inner: Cidr, outer: Cidr): boolean {
    return inner.family === outer.family && inner.prefix > outer.prefix && cidrContains(outer, { family: inner.family, value: inner.network });
}

/** True when the CIDR's address had host bits set (`10.0.0.1/8`): accepted, but likely a typo. */
export function cidrHasHostBits(text: string): boolean {
    const c = parseCidr(text);
    const ip = c && parseIp(text.trim().split("/")[0] as string);
    return !!c && !!ip && ip.value !== c.network;
}
