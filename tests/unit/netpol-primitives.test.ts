// Label selectors (apimachinery semantics) and CIDR math (IPv4 and IPv6): the primitives every
// verdict rests on, pinned case by case.
import { describe, expect, it } from "vitest";
import { cidrContains, cidrStrictlyWithin, compilePolicies, labelSelectorMatches, parseCidr, parseIp, PolicyValidationError } from "../../netpol";

describe("label selectors", () => {
    const labels = { app: "web", tier: "frontend" };
    it.each<[unknown, boolean, string]>([
        [{}, true, "empty selects everything"],
        [{ matchLabels: { app: "web" } }, true, "matchLabels equal"],
        [{ matchLabels: { app: "web", tier: "backend" } }, false, "matchLabels are ANDed"],
        [{ matchExpressions: [{ key: "app", operator: "In", values: ["db", "web"] }] }, true, "In"],
        [{ matchExpressions: [{ key: "role", operator: "In", values: ["x"] }] }, false, "In on a missing key"],
        [{ matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, false, "NotIn with the value"],
        [{ matchExpressions: [{ key: "role", operator: "NotIn", values: ["x"] }] }, true, "NotIn on a missing key matches (apimachinery)"],
        [{ matchExpressions: [{ key: "tier", operator: "Exists" }] }, true, "Exists"],
        [{ matchExpressions: [{ key: "role", operator: "DoesNotExist" }] }, true, "DoesNotExist"],
        [{ matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, false, "DoesNotExist on a present key"],
        [{ matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["backend"] }] }, false, "matchLabels AND matchExpressions"],
    ])("%j -> %s (%s)", (selector, want) => {
        expect(labelSelectorMatches(selector, labels)).toBe(want);
    });

    it("rejects malformed requirements with the fix", () => {
        expect(() => labelSelectorMatches({ matchExpressions: [{ key: "a", operator: "in", values: ["x"] }] }, {})).toThrow(
            /"in" is not an operator. Allowed: In, NotIn, Exists, DoesNotExist/,
        );
        expect(() => labelSelectorMatches({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }, {})).toThrow(/needs at least one value/);
        expect(() => labelSelectorMatches({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }, {})).toThrow(/takes no values/);
        expect(() => labelSelectorMatches({ matchlabels: { a: "b" } }, {})).toThrow(/unknown field 'matchlabels'/);
        expect(() => labelSelectorMatches({ matchLabels: { replicas: 3 } }, {})).toThrow(/is not a string. Fix: quote it/);
    });
});

describe("IP addresses and CIDRs", () => {
    it.each([
        ["10.0.0.1", 4, 0x0a000001n],
        ["255.255.255.255", 4, 0xffffffffn],
        ["::", 6, 0n],
        ["::1", 6, 1n],
        ["2001:db8::7", 6, 0x20010db8000000000000000000000007n],
        ["fd00:10:244:3::20", 6, 0xfd000010024400030000000000000020n],
        ["::ffff:10.0.0.1", 6, 0xffff0a000001n],
        ["1:2:3:4:5:6:7:8", 6, 0x00010002000300040005000600070008n],
    ])("parses %s", (text, family, value) => {
        expect(parseIp(text)).toEqual({ family, value });
    });

    it.each(["10.0.0", "10.0.0.256", "010.0.0.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "g::1", "", "1:2:3:4:5:6:7::8"])("refuses %j", (text) => {
        expect(parseIp(text)).toBeUndefined();
    });

    it("clears host bits, as the API server's parser does", () => {
        expect(parseCidr("10.1.2.3/8")?.network).toBe(0x0a000000n);
        expect(parseCidr("2001:db8::7/32")?.network).toBe(0x20010db8n << 96n);
        expect(parseCidr("10.0.0.0/33")).toBeUndefined();
        expect(parseCidr("::/129")).toBeUndefined();
        expect(parseCidr("10.0.0.0")).toBeUndefined();
    });

    it.each([
        ["10.0.0.0/8", "10.255.0.1", true],
        ["10.0.0.0/8", "11.0.0.1", false],
        ["0.0.0.0/0", "203.0.113.7", true],
        ["0.0.0.0/0", "2001:db8::7", false],
        ["::/0", "10.0.0.1", false],
        ["::/0", "2001:db8::7", true],
        ["2001:db8::/32", "2001:db8:ffff::1", true],
        ["2001:db8::/32", "2001:db9::1", false],
        ["fd00:10:244:3::20/128", "fd00:10:244:3::20", true],
        ["fd00:10:244:3::20/128", "fd00:10:244:3::21", false],
        ["192.168.1.10/31", "192.168.1.11", true],
        ["192.168.1.10/31", "192.168.1.12", false],
    ])("%s contains %s: %s", (cidr, ip, want) => {
        expect(cidrContains(parseCidr(cidr)!, parseIp(ip)!)).toBe(want);
    });

    it("except must be a strict subset of cidr", () => {
        expect(cidrStrictlyWithin(parseCidr("10.1.0.0/16")!, parseCidr("10.0.0.0/8")!)).toBe(true);
        expect(cidrStrictlyWithin(parseCidr("10.0.0.0/8")!, parseCidr("10.0.0.0/8")!)).toBe(false);
        expect(cidrStrictlyWithin(parseCidr("11.0.0.0/16")!, parseCidr("10.0.0.0/8")!)).toBe(false);
        expect(cidrStrictlyWithin(parseCidr("::/64")!, parseCidr("0.0.0.0/0")!)).toBe(false);
    });
});

describe("policy validation: what the API server would reject, all problems at once", () => {
    const wrap = (spec: Record<string, unknown>, name = "p") => ({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace: "prod" },
        spec,
    });
    const problemsOf = (policies: unknown[]): string[] => {
        try {
            compilePolicies(policies);
        } catch (err) {
            if (err instanceof PolicyValidationError) return [...err.problems];
            throw err;
        }
        return [];
    };

    it("reports every problem of every policy together, each with where, value and fix", () => {
        const problems = problemsOf([
            wrap({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/16"] } }] }] }, "a"),
            wrap(
                {
                    podSelector: {},
                    egress: [{ ports: [{ port: "80" }, { port: 70000 }, { protocol: "tcp" }, { port: "http", endPort: 90 }, { port: 90, endPort: 80 }] }],
                },
                "b",
            ),
            wrap({ podSelector: {}, ingress: [{ from: [{}, { ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] }, "c"),
            wrap({ podSelector: {}, policyTypes: ["ingress"] }, "d"),
            wrap({ podselector: {} }, "e"),
            { apiVersion: "extensions/v1beta1", kind: "NetworkPolicy", metadata: { name: "f", namespace: "prod" }, spec: {} },
        ]);
        expect(problems).toEqual([
            `NetworkPolicy prod/a.spec.ingress[0].from[0].ipBlock.except[0]: "11.0.0.0/16" must be a strict subset of cidr "10.0.0.0/8" (same family, longer prefix, inside it)`,
            `NetworkPolicy prod/b.spec.egress[0].ports[0].port: "80" is a string, so the API reads it as a port name, and a port name needs a letter. Fix: write the number unquoted (port: 80)`,
            `NetworkPolicy prod/b.spec.egress[0].ports[1].port: 70000 is not a port. Allowed: an integer 1-65535 or a port name`,
            `NetworkPolicy prod/b.spec.egress[0].ports[2].protocol: "tcp" is not a protocol. Allowed: TCP, UDP, SCTP (upper case; default TCP)`,
            `NetworkPolicy prod/b.spec.egress[0].ports[3].endPort: 90 cannot follow the named port "http". Fix: use numeric port and endPort for a range`,
            `NetworkPolicy prod/b.spec.egress[0].ports[4].endPort: 80 is not a port at or above port 90. Allowed: an integer 90-65535`,
            `NetworkPolicy prod/c.spec.ingress[0].from[0]: an empty peer selects nothing the API accepts. Fix: give podSelector, namespaceSelector or ipBlock (to allow everything, leave out from/to)`,
            `NetworkPolicy prod/c.spec.ingress[0].from[1]: ipBlock cannot be combined with podSelector or namespaceSelector in one peer. Fix: make them separate peers (which ORs them)`,
            `NetworkPolicy prod/d.spec.policyTypes: ["ingress"] is not a list of policy types. Allowed: Ingress, Egress (capitalised)`,
            `NetworkPolicy prod/e.spec: unknown field 'podselector'. Allowed: podSelector, policyTypes, ingress, egress. Fix: correct the spelling or remove it (the API server rejects unknown fields)`,
            `NetworkPolicy prod/f: apiVersion "extensions/v1beta1" is not served. Fix: use networking.k8s.io/v1`,
        ]);
    });

    it("accepts host bits and a missing namespace, with a warning", () => {
        const compiled = compilePolicies([{ metadata: { name: "p" }, spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.1/8" } }] }] } }]);
        expect(compiled.policies[0]?.id).toBe("default/p");
        expect(compiled.warnings).toEqual([
            `NetworkPolicy default/p: no metadata.namespace; evaluated in namespace "default", as kubectl would apply it with the default context`,
            `NetworkPolicy default/p.spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.1/8" has host bits set; it means "10.0.0.1/8" masked to /8`,
        ]);
    });
});
