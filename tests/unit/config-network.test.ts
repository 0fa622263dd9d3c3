// Network keys: ingressNamespace, egress.
import { describe, expect, it } from "vitest";
import { parseCidr } from "../../netpol/cidr";
import { validateConfig } from "../../config/schema";
import { problemsOf, staging } from "./configFixture";

const ALLOWED = 'Allowed: "CIDR", "CIDR:PORT" or "CIDR:PORT/UDP" with an IPv4 or IPv6 network, e.g. "10.20.0.0/16:5432" or "fd00:20::/64:5432".';

describe("egress", () => {
    it("accepts IPv4 and IPv6 networks, with a port and protocol", () => {
        const cfg = validateConfig(staging({ egress: ["10.20.0.0/16:5432", "fd00:20::/64:5432/UDP", "0.0.0.0/0", "::/0:443"] }), "staging");
        expect(cfg.network.egress).toEqual([
            { cidr: "10.20.0.0/16", port: 5432, protocol: "TCP" },
            { cidr: "fd00:20::/64", port: 5432, protocol: "UDP" },
            { cidr: "0.0.0.0/0", port: undefined, protocol: "TCP" },
            { cidr: "::/0", port: 443, protocol: "TCP" },
        ]);
        // What config accepts, the NetworkPolicy evaluator parses.
        for (const rule of cfg.network.egress) expect(parseCidr(rule.cidr), rule.cidr).toBeDefined();
    });

    it.each([
        [":::/8", 'env-progression:egress: ":::/8" has no valid CIDR: ":::/8" is not an IPv4 or IPv6 address with a prefix length (at most 32 or 128).'],
        ["1:2/64:5432", 'env-progression:egress: "1:2/64:5432" has no valid CIDR: "1:2/64" is not an IPv4 or IPv6 address with a prefix length (at most 32 or 128).'],
        ["10.0.0.0/33:5432", 'env-progression:egress: "10.0.0.0/33:5432" has no valid CIDR: "10.0.0.0/33" is not an IPv4 or IPv6 address with a prefix length (at most 32 or 128).'],
        ["010.0.0.0/8", 'env-progression:egress: "010.0.0.0/8" has no valid CIDR: "010.0.0.0/8" is not an IPv4 or IPv6 address with a prefix length (at most 32 or 128).'],
        ["fd00::/129", 'env-progression:egress: "fd00::/129" has no valid CIDR: "fd00::/129" is not an IPv4 or IPv6 address with a prefix length (at most 32 or 128).'],
        ["10.0.0.0/8:70000", 'env-progression:egress: "10.0.0.0/8:70000" has port 70000, outside 1-65535.'],
        ["10.0.0.0", 'env-progression:egress: "10.0.0.0" is not an egress rule.'],
        ["10.0.0.0/8:53/udp", 'env-progression:egress: "10.0.0.0/8:53/udp" is not an egress rule.'],
    ])("rejects %j", (rule, start) => {
        expect(problemsOf(staging({ egress: [rule] }))).toEqual([`${start} ${ALLOWED} Fix: pulumi config set --path 'egress[0]' 10.20.0.0/16:5432 -s staging`]);
    });

    it("rejects host bits, offering the network and the one host as fixes", () => {
        expect(problemsOf(staging({ egress: ["10.0.0.0/16", "10.20.0.5/16:5432"] }))).toEqual([
            `env-progression:egress: "10.20.0.5/16:5432" has host bits set: 10.20.0.5/16 means the whole network 10.20.0.0/16. ${ALLOWED} ` +
                "Fix: pulumi config set --path 'egress[1]' 10.20.0.0/16:5432 -s staging, or pulumi config set --path 'egress[1]' 10.20.0.5/32:5432 -s staging",
        ]);
        expect(problemsOf(staging({ egress: ["fd00:20::1/64"] }))[0]).toContain("means the whole network fd00:20::/64");
    });

    it("rejects an ingress namespace that is not a namespace name", () => {
        expect(problemsOf(staging({ ingressNamespace: "Ingress" }))).toEqual([
            'env-progression:ingressNamespace: "Ingress" is not a namespace name. Allowed: an RFC 1123 label. Fix: pulumi config set ingressNamespace ingress-nginx -s staging',
        ]);
    });
});

describe("ingressNamespace names the ingress controller's namespace, never an environment's", () => {
    // The app's NetworkPolicy admits every pod of ingressNamespace: naming an environment's
    // namespace there would admit every pod of that environment.
    it.each([
        ["the stack's own namespace", "web-staging", {}],
        ["another environment's namespace", "web-prod", {}],
        ["dev's namespace", "web-dev", {}],
        ["a namespace the stack configures for itself", "team-a", { namespace: "team-a" }],
    ])("refuses %s", (_what, value, extra) => {
        const problems = problemsOf(staging({ ingressNamespace: value, ...extra }));
        expect(problems).toEqual([
            `env-progression:ingressNamespace: "${value}" is ${value === "web-staging" || value === "team-a" ? "this stack's own namespace" : "an environment's namespace"}, and every pod of ingressNamespace may reach the app, so every pod there would be admitted. ` +
                `Allowed: the ingress controller's own namespace, not web-dev, web-staging, web-prod or this stack's namespace${value === "team-a" ? " team-a" : ""}. ` +
                "Fix: pulumi config set ingressNamespace ingress-nginx -s staging",
        ]);
    });

    it("accepts the ingress controller's namespace", () => {
        expect(validateConfig(staging({ ingressNamespace: "traefik" }), "staging").network.ingressNamespace).toBe("traefik");
    });
});
