// The upstream Kubernetes NetworkPolicy e2e cases (test/e2e/network/netpol/network_policy.go),
// replayed on the evaluator with the upstream model: namespaces x, y, z labelled `ns: <name>`,
// pods a, b, c labelled `pod: <name>`, each serving 80 and 81 on TCP, UDP and SCTP as the named
// ports serve-<port>-<proto>. Each case states the expected reachability for every pair (self
// excluded, as upstream ignores loopback) as a rule, and compares the whole matrix.
import { describe, expect, it } from "vitest";
import { Bitset, type ClusterModel, createEvaluator, type Protocol } from "../../netpol";

const NS = ["x", "y", "z"] as const;
const PODS = ["a", "b", "c"] as const;
const PROTOCOLS: Protocol[] = ["TCP", "UDP", "SCTP"];

function upstreamModel(extraNsLabels: Record<string, Record<string, string>> = {}): ClusterModel {
    return {
        namespaces: NS.map((ns) => ({ name: ns, labels: { ns, ...(extraNsLabels[ns] ?? {}) } })),
        pods: NS.flatMap((ns, i) =>
            PODS.map((pod, j) => ({
                namespace: ns,
                name: pod,
                labels: { pod },
                ip: `192.168.${i + 1}.${j + 10}`,
                ports: [80, 81].flatMap((port) =>
                    PROTOCOLS.map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol })),
                ),
            })),
        ),
    };
}
const ipOf = (id: string) => upstreamModel().pods.find((p) => `${p.namespace}/${p.name}` === id)!.ip;
const ALL = NS.flatMap((ns) => PODS.map((p) => `${ns}/${p}`));

type Spec = Record<string, unknown>;
const policy = (namespace: string, name: string, spec: Spec) => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace },
    spec,
});
const podA = { matchLabels: { pod: "a" } };

/**
 * Allowed pairs "from->to" for one port/protocol, self excluded. Both ways of computing them must
 * agree: cell by cell (evaluate) and per policy (the reachability index the judge uses).
 */
function reach(policies: unknown[], port = 80, protocol: Protocol = "TCP", model = upstreamModel()): string[] {
    const evaluator = createEvaluator(model, policies);
    const probes = [{ name: "p", port, protocol }];
    const byCell = evaluator
        .matrix(probes)
        .cells.filter((c) => c.allowed)
        .map((c) => `${c.from}->${c.to}`);
    const index = evaluator.reach(probes);
    const all = new Bitset(index.endpoints.length);
    index.endpoints.forEach((_, i) => all.add(i));
    const byPolicy: string[] = [];
    index.endpoints.forEach((from, i) => index.forEachReachable(i, 0, all, (j) => byPolicy.push(`${from.id}->${index.endpoints[j]!.id}`)));
    expect(byPolicy.sort()).toEqual([...byCell].sort());
    return byCell.sort();
}
/** The pairs an expectation allows. */
function expected(allow: (from: string, to: string) => boolean): string[] {
    return ALL.flatMap((from) => ALL.filter((to) => to !== from && allow(from, to)).map((to) => `${from}->${to}`)).sort();
}
const ns = (id: string) => id.split("/")[0];

describe("upstream NetworkPolicy e2e cases", () => {
    it("no policies: everything reaches everything", () => {
        expect(reach([])).toEqual(expected(() => true));
    });

    it("default-deny-ingress: nothing enters x, egress from x unaffected", () => {
        const p = [policy("x", "deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] })];
        expect(reach(p)).toEqual(expected((_, to) => ns(to) !== "x"));
    });

    it("default-deny-all: nothing enters or leaves x", () => {
        const p = [policy("x", "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] })];
        expect(reach(p)).toEqual(expected((from, to) => ns(from) !== "x" && ns(to) !== "x"));
    });

    it("allows traffic from pods within the server namespace based on PodSelector", () => {
        const p = [policy("x", "allow-b", { podSelector: podA, ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b" } } }] }] })];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || from === "x/b"));
    });

    it("allows ingress to a target with an empty rule, on top of a namespace deny", () => {
        const p = [policy("x", "deny", { podSelector: {}, policyTypes: ["Ingress"] }), policy("x", "allow-all-to-a", { podSelector: podA, ingress: [{}] })];
        expect(reach(p)).toEqual(expected((_, to) => ns(to) !== "x" || to === "x/a"));
    });

    it("allows ingress from pods in all namespaces (empty namespaceSelector)", () => {
        const p = [policy("x", "all-ns", { podSelector: podA, ingress: [{ from: [{ namespaceSelector: {} }] }] })];
        expect(reach(p)).toEqual(expected(() => true));
    });

    it("allows traffic only from a different namespace, based on NamespaceSelector", () => {
        const p = [policy("x", "from-y", { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }] })];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
    });

    it("PodSelector with MatchExpressions", () => {
        const p = [
            policy("x", "expr", {
                podSelector: podA,
                ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b"] }] } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || from === "x/b"));
    });

    it("NamespaceSelector with MatchExpressions", () => {
        const p = [
            policy("x", "expr", {
                podSelector: podA,
                ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: "ns", operator: "In", values: ["y"] }] } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
    });

    it("PodSelector OR NamespaceSelector: two peers", () => {
        const p = [
            policy("x", "or", {
                podSelector: podA,
                ingress: [
                    {
                        from: [
                            { namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] } },
                            { podSelector: { matchLabels: { pod: "b" } } },
                        ],
                    },
                ],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || ns(from) !== "x" || from === "x/b"));
    });

    it("PodSelector AND NamespaceSelector: one peer", () => {
        const p = [
            policy("x", "and", {
                podSelector: podA,
                ingress: [
                    {
                        from: [
                            {
                                namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] },
                                podSelector: { matchLabels: { pod: "b" } },
                            },
                        ],
                    },
                ],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || from === "y/b" || from === "z/b"));
    });

    it("multiple PodSelectors and NamespaceSelectors", () => {
        const p = [
            policy("x", "multi", {
                podSelector: podA,
                ingress: [
                    {
                        from: [
                            {
                                namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] },
                                podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b", "c"] }] },
                            },
                        ],
                    },
                ],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || (ns(from) !== "x" && !from.endsWith("/a"))));
    });

    it("any of several PodSelectors", () => {
        const p = [
            policy("x", "any", {
                podSelector: podA,
                ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b" } } }, { podSelector: { matchLabels: { pod: "c" } } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || from === "x/b" || from === "x/c"));
    });

    it("a pod in a different namespace based on PodSelector and NamespaceSelector", () => {
        const p = [policy("x", "ya", { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } }, podSelector: podA }] }] })];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || from === "y/a"));
    });

    it("the default namespace label kubernetes.io/metadata.name selects a namespace", () => {
        const p = [
            policy("x", "by-name", {
                podSelector: podA,
                ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "y" } } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
    });

    it("Ports: only port 81 from y", () => {
        const p = [
            policy("x", "81", {
                podSelector: podA,
                ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ port: 81, protocol: "TCP" }] }],
            }),
        ];
        expect(reach(p, 80)).toEqual(expected((_, to) => to !== "x/a"));
        expect(reach(p, 81)).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
    });

    it("stacked policies with overlapping podSelectors add up", () => {
        const p = [
            policy("x", "80", { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ port: 80 }] }] }),
            policy("x", "81", { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ port: 81 }] }] }),
        ];
        for (const port of [80, 81]) expect(reach(p, port)).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
    });

    it("allow-all policy", () => {
        const p = [policy("x", "allow-all", { podSelector: {}, ingress: [{}] })];
        expect(reach(p, 80)).toEqual(expected(() => true));
        expect(reach(p, 81, "UDP")).toEqual(expected(() => true));
    });

    it("ingress on one named port", () => {
        const p = [policy("x", "named", { podSelector: podA, ingress: [{ ports: [{ port: "serve-81-tcp" }] }] })];
        expect(reach(p, 81)).toEqual(expected(() => true));
        expect(reach(p, 80)).toEqual(expected((_, to) => to !== "x/a"));
    });

    it("ingress from a namespace on one named port", () => {
        const p = [
            policy("x", "named", {
                podSelector: podA,
                ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ port: "serve-80-tcp" }] }],
            }),
        ];
        expect(reach(p, 80)).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
        expect(reach(p, 81)).toEqual(expected((_, to) => to !== "x/a"));
    });

    it("egress on one named port (resolved against each destination pod)", () => {
        const p = [policy("x", "named", { podSelector: podA, policyTypes: ["Egress"], egress: [{ ports: [{ port: "serve-80-tcp" }] }] })];
        expect(reach(p, 80)).toEqual(expected(() => true));
        expect(reach(p, 81)).toEqual(expected((from) => from !== "x/a"));
    });

    it("a named port of another protocol does not match (serve-80-udp with protocol TCP)", () => {
        const p = [policy("x", "named", { podSelector: podA, ingress: [{ ports: [{ port: "serve-80-udp", protocol: "TCP" }] }] })];
        expect(reach(p, 80, "TCP")).toEqual(expected((_, to) => to !== "x/a"));
        expect(reach(p, 80, "UDP")).toEqual(expected((_, to) => to !== "x/a"));
    });

    it("denies ingress from pods in other namespaces", () => {
        const p = [policy("x", "same-ns", { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })];
        expect(reach(p)).toEqual(expected((from, to) => ns(to) !== "x" || ns(from) === "x"));
    });

    it("ingress from an updated namespace: the new label admits it", () => {
        const p = [policy("x", "ns2", { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: "updated" } } }] }] })];
        expect(reach(p)).toEqual(expected((_, to) => to !== "x/a"));
        expect(reach(p, 80, "TCP", upstreamModel({ y: { ns2: "updated" } }))).toEqual(expected((from, to) => to !== "x/a" || ns(from) === "y"));
    });

    it("denies egress from pods based on PodSelector", () => {
        const p = [policy("x", "deny-egress-a", { podSelector: podA, policyTypes: ["Egress"] })];
        expect(reach(p)).toEqual(expected((from) => from !== "x/a"));
    });

    it("denies egress from all pods in a namespace", () => {
        const p = [policy("x", "deny-egress", { podSelector: {}, policyTypes: ["Egress"] })];
        expect(reach(p)).toEqual(expected((from) => ns(from) !== "x"));
    });

    it("Ingress and Egress specified together", () => {
        const p = [
            policy("x", "both", {
                podSelector: podA,
                policyTypes: ["Ingress", "Egress"],
                ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b" } } }] }],
                egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => (to !== "x/a" || from === "x/b") && (from !== "x/a" || ns(to) === "y")));
    });

    it("denies egress on the client side even if the server allows it", () => {
        const p = [
            policy("x", "egress-to-y-b", {
                podSelector: podA,
                policyTypes: ["Egress"],
                egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: "y" } }, podSelector: { matchLabels: { pod: "b" } } }] }],
            }),
            policy("y", "allow-all", { podSelector: {}, ingress: [{}] }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => from !== "x/a" || to === "y/b"));
    });

    it("egress to a server in a different namespace based on PodSelector and NamespaceSelector", () => {
        const p = [
            policy("x", "egress", {
                podSelector: podA,
                policyTypes: ["Egress"],
                egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: "y" } }, podSelector: podA }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => from !== "x/a" || to === "y/a"));
    });

    it("any port on a specific protocol", () => {
        const p = [policy("x", "tcp", { podSelector: podA, ingress: [{ ports: [{ protocol: "TCP" }] }] })];
        expect(reach(p, 80)).toEqual(expected(() => true));
        expect(reach(p, 81)).toEqual(expected(() => true));
        expect(reach(p, 80, "UDP")).toEqual(expected((_, to) => to !== "x/a"));
    });

    it("multiple ingress policies: an allow-all takes precedence", () => {
        const p = [
            policy("x", "81-only", { podSelector: podA, ingress: [{ ports: [{ port: 81 }] }] }),
            policy("x", "allow-all", { podSelector: podA, ingress: [{}] }),
        ];
        expect(reach(p, 80)).toEqual(expected(() => true));
    });

    it("multiple egress policies: an allow-all takes precedence", () => {
        const p = [
            policy("x", "81-only", { podSelector: podA, policyTypes: ["Egress"], egress: [{ ports: [{ port: 81 }] }] }),
            policy("x", "allow-all", { podSelector: podA, policyTypes: ["Egress"], egress: [{}] }),
        ];
        expect(reach(p, 80)).toEqual(expected(() => true));
    });

    it("egress to a server in a CIDR block (a pod's /32)", () => {
        const p = [policy("x", "cidr", { podSelector: podA, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: `${ipOf("y/b")}/32` } }] }] })];
        expect(reach(p)).toEqual(expected((from, to) => from !== "x/a" || to === "y/b"));
    });

    it("enforces the except clause of a CIDR block", () => {
        const p = [
            policy("x", "except", {
                podSelector: podA,
                policyTypes: ["Egress"],
                egress: [{ to: [{ ipBlock: { cidr: "192.168.0.0/16", except: [`${ipOf("y/b")}/32`] } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => from !== "x/a" || to !== "y/b"));
    });

    it("an IP in one block's except and another block's cidr is allowed (peers OR)", () => {
        const p = [
            policy("x", "overlap", {
                podSelector: podA,
                policyTypes: ["Egress"],
                egress: [{ to: [{ ipBlock: { cidr: "192.168.2.0/24", except: [`${ipOf("y/b")}/32`] } }, { ipBlock: { cidr: `${ipOf("y/b")}/32` } }] }],
            }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => from !== "x/a" || ns(to) === "y"));
    });

    it("ingress and egress isolation are independent", () => {
        const p = [
            policy("x", "egress-only", { podSelector: podA, policyTypes: ["Egress"] }),
            policy("y", "ingress-only", { podSelector: { matchLabels: { pod: "b" } }, policyTypes: ["Ingress"] }),
        ];
        expect(reach(p)).toEqual(expected((from, to) => from !== "x/a" && to !== "y/b"));
    });

    it("a UDP-only policy does not allow TCP", () => {
        const p = [policy("x", "udp", { podSelector: podA, ingress: [{ ports: [{ protocol: "UDP", port: 81 }] }] })];
        expect(reach(p, 81, "TCP")).toEqual(expected((_, to) => to !== "x/a"));
        expect(reach(p, 81, "UDP")).toEqual(expected(() => true));
    });

    it("protocol SCTP is not mistaken for TCP, and isolates like any other", () => {
        const p = [policy("x", "sctp", { podSelector: podA, ingress: [{ ports: [{ protocol: "SCTP", port: 80 }] }] })];
        expect(reach(p, 80, "TCP")).toEqual(expected((_, to) => to !== "x/a"));
        expect(reach(p, 80, "SCTP")).toEqual(expected(() => true));
        expect(reach(p, 81, "SCTP")).toEqual(expected((_, to) => to !== "x/a"));
    });

    it("endPort: a port range includes both ends", () => {
        const p = [policy("x", "range", { podSelector: podA, ingress: [{ ports: [{ port: 81, endPort: 90 }] }] })];
        expect(reach(p, 81)).toEqual(expected(() => true));
        expect(reach(p, 80)).toEqual(expected((_, to) => to !== "x/a"));
        const q = [policy("x", "range", { podSelector: podA, ingress: [{ ports: [{ port: 79, endPort: 80 }] }] })];
        expect(reach(q, 80)).toEqual(expected(() => true));
        expect(reach(q, 81)).toEqual(expected((_, to) => to !== "x/a"));
    });

    it("policyTypes absent: Ingress always, Egress only when egress rules are present", () => {
        const ingressOnly = [policy("x", "no-types", { podSelector: podA })];
        expect(reach(ingressOnly)).toEqual(expected((_, to) => to !== "x/a"));
        const emptyEgressList = [policy("x", "no-types", { podSelector: podA, egress: [] })];
        expect(reach(emptyEgressList)).toEqual(expected((_, to) => to !== "x/a"));
        const withEgress = [policy("x", "no-types", { podSelector: podA, egress: [{ to: [{ podSelector: {} }] }] })];
        expect(reach(withEgress)).toEqual(expected((from, to) => to !== "x/a" && (from !== "x/a" || ns(to) === "x")));
    });

    it("ingress rules are ignored when policyTypes lists only Egress", () => {
        const p = [
            policy("x", "egress-typed", {
                podSelector: podA,
                policyTypes: ["Egress"],
                ingress: [{ from: [{ podSelector: { matchLabels: { pod: "nobody" } } }] }],
                egress: [{}],
            }),
        ];
        const evaluator = createEvaluator(upstreamModel(), p);
        expect(evaluator.policies.warnings.join("\n")).toMatch(/has ingress rules but policyTypes \["Egress"\] lacks Ingress, so they are ignored/);
        expect(reach(p)).toEqual(expected(() => true));
    });
});
