// Preview: fields the engine cannot know yet arrive as the wire sentinels behind @pulumi/policy's
// unknown-checking proxy (reading one throws). Every policy must skip exactly those fields: no
// false violation, no crash, and no "can't run policy during preview" noise, while the known
// fields of the same resource are still judged.
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
import { SECRET_CHECKSUM } from "../../components/app";
import { REVISION_LABEL } from "../../kube/labels";
import { RESOURCE_CHECKS, STACK_CHECKS } from "../../policy/pack";
import { plain, UNKNOWN } from "../../policy/unknown";
import * as policyModule from "@pulumi/policy";
import {
    admitAll,
    analyze,
    appDeploymentName,
    manifestOf,
    manifestsOf,
    resourcePolicyNamed,
    runResource,
    runStack,
    stackOf,
    stackPolicyNamed,
    UNKNOWN_ARRAY,
    UNKNOWN_NUMBER,
    UNKNOWN_OBJECT,
    UNKNOWN_STRING,
} from "./fixtures";

const { unknownCheckingProxy } = policyModule as unknown as { unknownCheckingProxy: <T>(props: T) => T };

const runAll = async (env: (typeof ENVIRONMENTS)[number], m: unknown) => {
    const found: string[] = [];
    for (const check of RESOURCE_CHECKS) {
        const outcome = await runResource(resourcePolicyNamed(env, check.name), m);
        found.push(...outcome.violations);
    }
    return found;
};

/** Deployments with one field unknown, as a preview would send them. */
const unknownDeployments: [string, (d: any) => void][] = [
    ["metadata.namespace", (d) => (d.metadata.namespace = UNKNOWN_STRING)],
    ["spec.replicas", (d) => (d.spec.replicas = UNKNOWN_NUMBER)],
    ["spec.template", (d) => (d.spec.template = UNKNOWN_OBJECT)],
    ["containers", (d) => (d.spec.template.spec.containers = UNKNOWN_ARRAY)],
    ["image", (d) => (d.spec.template.spec.containers[0].image = UNKNOWN_STRING)],
    ["resources", (d) => (d.spec.template.spec.containers[0].resources = UNKNOWN_OBJECT)],
    ["securityContext", (d) => (d.spec.template.spec.containers[0].securityContext = UNKNOWN_OBJECT)],
    ["pod securityContext", (d) => (d.spec.template.spec.securityContext = UNKNOWN_OBJECT)],
    ["readinessProbe", (d) => (d.spec.template.spec.containers[0].readinessProbe = UNKNOWN_OBJECT)],
    ["env", (d) => (d.spec.template.spec.containers[0].env = UNKNOWN_ARRAY)],
    ["an env value", (d) => (d.spec.template.spec.containers[0].env = [{ name: "API_TOKEN", value: UNKNOWN_STRING }])],
];

describe("unknown fields at preview", () => {
    it("plain() marks what the proxy would throw on, and keeps the rest", () => {
        const props = unknownCheckingProxy({ a: UNKNOWN_STRING, b: [1, UNKNOWN_NUMBER], c: { d: "x" } });
        expect(() => (props as any).a).toThrow(/can't be known during preview/);
        expect(plain(props)).toEqual({ a: UNKNOWN, b: [1, UNKNOWN], c: { d: "x" } });
    });

    for (const [field, makeUnknown] of unknownDeployments) {
        it(`no policy reports or throws on a Deployment whose ${field} is unknown`, async () => {
            for (const env of ENVIRONMENTS) {
                const d = manifestOf(env, "Deployment");
                makeUnknown(d);
                expect(await runAll(env, d)).toEqual([]);
            }
        });
    }

    it("still judges the known fields of a resource with unknown ones", async () => {
        const d = manifestOf("prod", "Deployment");
        d.metadata.namespace = UNKNOWN_STRING;
        d.spec.template.spec.containers[0].image = UNKNOWN_STRING;
        d.spec.replicas = 1;
        expect(await runAll("prod", d)).toEqual([
            // The namespace is unknown, so the Deployment is named without it.
            `Deployment ${appDeploymentName("prod")} runs 1 replica; prod runs at least 3, so one node drain or crash must not take the app down. Fix: set spec.replicas to at least 3 (this program: pulumi config set replicas 3 -s prod).`,
        ]);
    });

    it.each([
        ["Namespace labels", () => Object.assign(manifestOf("prod", "Namespace"), { metadata: { name: "web-prod", labels: UNKNOWN_OBJECT } })],
        [
            "a Namespace label value",
            () => {
                const ns = manifestOf("prod", "Namespace");
                ns.metadata.labels.environment = UNKNOWN_STRING;
                ns.metadata.labels["pod-security.kubernetes.io/enforce"] = UNKNOWN_STRING;
                return ns;
            },
        ],
        [
            "a NetworkPolicy's ingress rules",
            () => {
                const np = manifestOf("prod", "NetworkPolicy", "allow-ingress-controller");
                np.spec.ingress = UNKNOWN_ARRAY;
                return np;
            },
        ],
        [
            "a namespaceSelector",
            () => {
                const np = manifestOf("prod", "NetworkPolicy", "allow-ingress-controller");
                np.spec.ingress[0].from[0].namespaceSelector = { matchLabels: { "kubernetes.io/metadata.name": UNKNOWN_STRING } };
                return np;
            },
        ],
        [
            "a PodDisruptionBudget's maxUnavailable",
            () => {
                const pdb = manifestOf("prod", "PodDisruptionBudget");
                pdb.spec.maxUnavailable = UNKNOWN_NUMBER;
                return pdb;
            },
        ],
        [
            "a Service's type",
            () => {
                const svc = manifestOf("prod", "Service", "web");
                svc.spec.type = UNKNOWN_STRING;
                return svc;
            },
        ],
        [
            "a ConfigMap's data",
            () => {
                const cm = manifestOf("prod", "ConfigMap");
                cm.data = UNKNOWN_OBJECT;
                return cm;
            },
        ],
    ])("no policy reports or throws when %s is unknown", async (_what, make) => {
        expect(await runAll("prod", make())).toEqual([]);
    });

    it("through @pulumi/policy's analyzer: no diagnostic at all, not even the advisory 'can't run during preview'", async () => {
        for (const [, makeUnknown] of unknownDeployments) {
            const d = manifestOf("prod", "Deployment");
            makeUnknown(d);
            expect((await analyze("prod", d)).diagnostics).toEqual([]);
        }
    });

    it("stack policies skip what they cannot judge yet and still judge the rest", async () => {
        const resources = stackOf("prod");
        const dep = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment")!;
        dep.props.metadata.namespace = UNKNOWN_STRING;
        const isolation = await runStack(stackPolicyNamed("prod", "environment-isolated"), resources);
        expect(isolation).toEqual({
            violations: [],
            urns: [],
            notApplicable: "names, labels or NetworkPolicy specs are not known until the update; isolation is judged when they are",
        });
        for (const name of [
            "default-deny-per-namespace",
            "pdb-allows-drain-at-replicas",
            "smoke-test-per-app",
            "live-traffic-after-checks",
            "stack-environment",
        ]) {
            expect(await runStack(stackPolicyNamed("prod", name), resources)).toEqual({ violations: [], urns: [], notApplicable: undefined });
        }
    });


    /** prod's stack as a new stack's first preview has it: every field that carries the revision id unknown. */
    const firstPreview = () => {
        const resources = stackOf("prod");
        const unknownRevision = (labels: Record<string, string> | undefined) => {
            if (labels?.[REVISION_LABEL] !== undefined) labels[REVISION_LABEL] = UNKNOWN_STRING;
        };
        for (const { type, props: m } of resources) {
            if (!type.startsWith("kubernetes:")) continue;
            unknownRevision(m.metadata.labels);
            if (["ConfigMap", "Secret", "Deployment"].includes(m.kind)) m.metadata.name = UNKNOWN_STRING;
            if (m.kind === "Service") unknownRevision(m.spec.selector);
            if (m.kind === "Deployment") {
                unknownRevision(m.spec.selector.matchLabels);
                unknownRevision(m.spec.template.metadata.labels);
                m.spec.template.metadata.annotations[SECRET_CHECKSUM] = UNKNOWN_STRING;
                m.spec.template.spec.containers[0].envFrom = UNKNOWN_ARRAY;
                for (const c of m.spec.template.spec.topologySpreadConstraints) unknownRevision(c.labelSelector.matchLabels);
            }
        }
        return resources;
    };

    it("a preview before the revision id is known (a new stack's digest key does not exist yet), with exactly the fields that carry it unknown: every policy judges, nothing reported, nothing thrown", async () => {
        const resources = firstPreview();
        expect(resources.filter((r) => r.props.metadata?.name === UNKNOWN_STRING).map((r) => r.props.kind)).toEqual(["ConfigMap", "Secret", "Deployment"]);
        for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) expect(await runAll("prod", r.props)).toEqual([]);
        for (const check of STACK_CHECKS) {
            const out = await runStack(stackPolicyNamed("prod", check.name), resources);
            expect(out.violations).toEqual([]);
            // No NetworkPolicy selects by the revision label, so isolation is judged too.
            expect(out.notApplicable, check.name).toBeUndefined();
        }
    });

    it("at that preview, a policy admitting every namespace is still reported by environment-isolated", async () => {
        const out = await runStack(stackPolicyNamed("prod", "environment-isolated"), [...firstPreview(), admitAll("prod")]);
        expect(out.violations.length).toBeGreaterThan(0);
        expect(out.violations.join("\n")).toMatch(/Environment prod is not isolated: namespace attacker, which copies web-prod's labels/);
    });

    it("an unknown label value a NetworkPolicy selects by still defers the verdict", async () => {
        const resources = firstPreview();
        const policy = resources.find((r) => r.type.endsWith(":NetworkPolicy") && r.props.metadata.name === "allow-ingress-controller")!;
        policy.props.spec.podSelector = { matchLabels: { ...policy.props.spec.podSelector.matchLabels, [REVISION_LABEL]: "0123456789" } };
        expect((await runStack(stackPolicyNamed("prod", "environment-isolated"), resources)).notApplicable).toBe(
            "names, labels or NetworkPolicy specs are not known until the update; isolation is judged when they are",
        );
    });

    it("a NetworkPolicy whose namespace is unknown defers the default-deny verdict", async () => {
        const resources = stackOf("prod").filter((r) => !r.name.endsWith("-default-deny"));
        for (const r of resources) if (r.type.endsWith(":NetworkPolicy")) r.props.metadata.namespace = UNKNOWN_STRING;
        expect((await runStack(stackPolicyNamed("prod", "default-deny-per-namespace"), resources)).violations).toEqual([]);
    });

    it("every committed stack's objects survive a fully unknown spec", async () => {
        for (const env of ENVIRONMENTS) {
            for (const m of manifestsOf(env)) {
                expect(await runAll(env, { ...m, spec: UNKNOWN_OBJECT, data: UNKNOWN_OBJECT })).toEqual([]);
            }
        }
    });
});
