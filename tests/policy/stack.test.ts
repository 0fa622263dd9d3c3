// Stack policies over the resources one environment's stack registers (fixtures.ts stackOf):
// compliant as committed, then one change per test and the exact violation. Isolation findings
// come from the shared NetworkPolicy evaluator: their "what is open" part is asserted exactly,
// the evaluator's own Why/Fix wording is the evaluator's tests' business.
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
import { resolveContext } from "../../policy/environment";
import { policies, STACK_CHECKS } from "../../policy/pack";
import type { StackValidationPolicy } from "@pulumi/policy";
import { admitAll, appDeployment, appDeploymentName, type FakeResource, runStack, stackOf, stackPolicyNamed, UNKNOWN_STRING, urnOf } from "./fixtures";

const k8s = (resources: FakeResource[], kind: string, name?: string) => {
    const r = resources.find((x) => x.type.endsWith(`:${kind}`) && (name === undefined || x.props.metadata?.name === name));
    if (!r) throw new Error(`no ${kind} ${name ?? ""}`);
    return r;
};
const without = (resources: FakeResource[], r: FakeResource) => resources.filter((x) => x !== r);
const nsUrn = (resources: FakeResource[]) => urnOf(k8s(resources, "Namespace"));
/** `text` as a literal inside a RegExp. */
const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
// The app's pod in each model is its Deployment's: the candidate revision's, `web-<revision>`.
// The peers and the attacker copy this stack's workloads, names included.
const PROD = re(appDeployment("prod"));
const STAGING = re(appDeployment("staging"));
const DEV = re(appDeployment("dev"));
const peer = (env: string, of: "dev" | "staging" | "prod") => re(`peer-${env}/${appDeploymentName(of)}`);

describe("every stack policy on the committed stacks", () => {
    for (const env of ENVIRONMENTS) {
        it(`finds nothing to report in ${env}`, async () => {
            for (const check of STACK_CHECKS) {
                expect(await runStack(stackPolicyNamed(env, check.name), stackOf(env))).toEqual({ violations: [], urns: [], notApplicable: undefined });
            }
        });
    }
});

describe("environment-isolated", () => {

    it("reports a policy admitting every namespace: other environments and the spoofing namespace get in", async () => {
        const resources = [...stackOf("prod"), admitAll("prod")];
        const out = await runStack(stackPolicyNamed("prod", "environment-isolated"), resources);
        expect(out.violations).toEqual([
            expect.stringMatching(
                new RegExp(
                    `^Environment prod is not isolated: namespace attacker, which copies web-prod's labels \\(environment=prod\\) but is no environment, is admitted to ${PROD} \\(prod\\) on TCP 8080 \\(app\\), UDP 53 \\(dns-udp\\), TCP 53 \\(dns-tcp\\)\\. .*allow-all-namespaces`,
                ),
            ),
            expect.stringMatching(
                new RegExp(
                    `^Environment prod is not isolated: ${peer("dev", "prod")} \\(dev\\) can reach ${PROD} \\(prod\\) on TCP 8080 \\(app\\), UDP 53 \\(dns-udp\\), TCP 53 \\(dns-tcp\\): environments must be isolated\\. .*allow-all-namespaces`,
                ),
            ),
            expect.stringMatching(
                new RegExp(
                    `^Environment prod is not isolated: ${peer("staging", "prod")} \\(staging\\) can reach ${PROD} \\(prod\\) on TCP 8080 \\(app\\), UDP 53 \\(dns-udp\\), TCP 53 \\(dns-tcp\\): environments must be isolated\\. .*allow-all-namespaces`,
                ),
            ),
        ]);
        expect(out.urns).toEqual([nsUrn(resources), nsUrn(resources), nsUrn(resources)]);
    });

    it("reports one violation per pair of namespaces, listing the other pod pairs", async () => {
        const resources = [...stackOf("prod"), admitAll("prod")];
        const web = k8s(resources, "Deployment");
        const canary = structuredClone(web.props);
        canary.metadata.name = "canary";
        canary.spec.template.metadata.labels["app.kubernetes.io/name"] = "canary";
        resources.push({ type: web.type, name: "prod-canary", props: canary });
        const out = await runStack(stackPolicyNamed("prod", "environment-isolated"), resources);
        expect(out.violations).toEqual([
            expect.stringMatching(
                new RegExp(`^Environment prod is not isolated: namespace attacker, which copies web-prod's labels .* is admitted to ${PROD} \\(prod\\)`),
            ),
            expect.stringMatching(new RegExp(`^Environment prod is not isolated: ${peer("dev", "prod")} \\(dev\\) can reach ${PROD} \\(prod\\)`)),
            expect.stringMatching(new RegExp(`^Environment prod is not isolated: ${peer("staging", "prod")} \\(staging\\) can reach ${PROD} \\(prod\\)`)),
        ]);
        expect(out.violations[1]).toMatch(
            new RegExp(` Same for: ${peer("dev", "prod")} -> web-prod/canary, peer-dev/canary -> ${PROD}, peer-dev/canary -> web-prod/canary\\.$`),
        );
    });

    it("reports a selector on the environment label: only the spoofing namespace gets in", async () => {
        const resources = stackOf("staging");
        k8s(resources, "NetworkPolicy", "allow-ingress-controller").props.spec.ingress[0].from[0].namespaceSelector = {
            matchLabels: { environment: "staging" },
        };
        const out = await runStack(stackPolicyNamed("staging", "environment-isolated"), resources);
        expect(out.violations).toEqual([
            expect.stringMatching(
                new RegExp(
                    `^Environment staging is not isolated: namespace attacker, which copies web-staging's labels \\(environment=staging\\) but is no environment, is admitted to ${STAGING} \\(staging\\) on TCP 8080 \\(app\\)\\. `,
                ),
            ),
            // The ingress controller's namespace lacks the label, so it is locked out as well.
            expect.stringMatching(
                new RegExp(
                    `^Environment staging is not isolated: the ingress controller ingress-nginx/controller cannot reach ${STAGING} \\(staging\\) on TCP 8080 \\(app\\): the app is unreachable from outside\\. `,
                ),
            ),
        ]);
    });

    it("reports egress to another environment opened by a shared custom label", async () => {
        const resources = stackOf("dev");
        k8s(resources, "NetworkPolicy", "allow-same-environment").props.spec.egress[0].to = [
            { namespaceSelector: { matchLabels: { "app.kubernetes.io/part-of": "env-progression" } } },
        ];
        const out = await runStack(stackPolicyNamed("dev", "environment-isolated"), resources);
        expect(out.violations).toEqual(
            expect.arrayContaining([
                expect.stringMatching(
                    new RegExp(`^Environment dev is not isolated: ${DEV} \\(dev\\) can reach ${peer("staging", "dev")} \\(staging\\) on TCP 8080 \\(app\\)`),
                ),
                expect.stringMatching(
                    new RegExp(`^Environment dev is not isolated: ${DEV} \\(dev\\) can reach ${peer("prod", "dev")} \\(prod\\) on TCP 8080 \\(app\\)`),
                ),
            ]),
        );
    });

    it("reports DNS blocked when the DNS allowance is gone", async () => {
        const resources = stackOf("prod");
        const out = await runStack(stackPolicyNamed("prod", "environment-isolated"), without(resources, k8s(resources, "NetworkPolicy", "allow-dns")));
        expect(out.violations).toEqual([
            expect.stringMatching(
                new RegExp(
                    `^Environment prod is not isolated: ${PROD} \\(prod\\) cannot reach DNS at kube-system/kube-dns on UDP 53 \\(dns-udp\\), TCP 53 \\(dns-tcp\\): name resolution fails\\. `,
                ),
            ),
        ]);
    });

    it("reports the ingress controller locked out when its allowance is gone", async () => {
        const resources = stackOf("prod");
        const out = await runStack(
            stackPolicyNamed("prod", "environment-isolated"),
            without(resources, k8s(resources, "NetworkPolicy", "allow-ingress-controller")),
        );
        expect(out.violations).toEqual([
            expect.stringMatching(
                new RegExp(
                    `^Environment prod is not isolated: the ingress controller ingress-nginx/controller cannot reach ${PROD} \\(prod\\) on TCP 8080 \\(app\\): the app is unreachable from outside\\. `,
                ),
            ),
        ]);
    });

    it("takes the ingress controller's namespace from policy config", async () => {
        const out = await runStack(stackPolicyNamed("prod", "environment-isolated"), stackOf("prod"), { ingressNamespace: "traefik" });
        expect(out.violations).toEqual([
            expect.stringMatching(new RegExp(`^Environment prod is not isolated: the ingress controller traefik/controller cannot reach ${PROD} \\(prod\\)`)),
        ]);
    });

    it("is not applicable to a stack without an environment namespace", async () => {
        const resources = stackOf("prod");
        const out = await runStack(stackPolicyNamed("prod", "environment-isolated"), without(resources, k8s(resources, "Namespace")));
        expect(out.notApplicable).toBe("the stack has no Namespace labelled environment; namespace-labels reports that");
    });
});

describe("default-deny-per-namespace", () => {
    it("reports a namespace without a default deny", async () => {
        const resources = stackOf("prod");
        const out = await runStack(stackPolicyNamed("prod", "default-deny-per-namespace"), without(resources, k8s(resources, "NetworkPolicy", "default-deny")));
        expect(out).toEqual({
            violations: [
                'Namespace web-prod has no default-deny NetworkPolicy for ingress and egress: until one exists, every ingress and egress path not explicitly allowed stays open. Fix: add a NetworkPolicy in web-prod with podSelector {} and policyTypes ["Ingress", "Egress"] and no rules (components/networkIsolation.ts "default-deny" denies both).',
            ],
            urns: [nsUrn(resources)],
            notApplicable: undefined,
        });
    });

    it("reports a default deny for ingress only", async () => {
        const resources = stackOf("staging");
        k8s(resources, "NetworkPolicy", "default-deny").props.spec.policyTypes = ["Ingress"];
        const out = await runStack(stackPolicyNamed("staging", "default-deny-per-namespace"), resources);
        expect(out.violations).toEqual([
            'Namespace web-staging has no default-deny NetworkPolicy for egress: until one exists, every egress path not explicitly allowed stays open. Fix: add a NetworkPolicy in web-staging with podSelector {} and policyTypes ["Egress"] and no rules (components/networkIsolation.ts "default-deny" denies both).',
        ]);
    });

    it("does not count a policy that selects only some pods", async () => {
        const resources = stackOf("dev");
        k8s(resources, "NetworkPolicy", "default-deny").props.spec.podSelector = { matchLabels: { "app.kubernetes.io/name": "web" } };
        expect((await runStack(stackPolicyNamed("dev", "default-deny-per-namespace"), resources)).violations).toHaveLength(1);
    });
});

describe("pdb-allows-drain-at-replicas", () => {
    it("reports minAvailable equal to the replica count", async () => {
        const resources = stackOf("prod");
        const pdb = k8s(resources, "PodDisruptionBudget");
        pdb.props.spec = { minAvailable: 50, selector: pdb.props.spec.selector };
        const out = await runStack(stackPolicyNamed("prod", "pdb-allows-drain-at-replicas"), resources);
        expect(out.violations).toEqual([
            `PodDisruptionBudget web-prod/web keeps minAvailable 50 of Deployment ${appDeployment("prod")}, which runs 50 replicas: no pod may ever be evicted, so node drains and cluster upgrades hang. Fix: allow at least one disruption, e.g. maxUnavailable: "10%" (prod's value in config/environments.ts).`,
        ]);
        expect(out.urns).toEqual([urnOf(pdb)]);
    });

    it("rounds a percentage up as the disruption controller does", async () => {
        const resources = stackOf("prod");
        const pdb = k8s(resources, "PodDisruptionBudget");
        pdb.props.spec = { minAvailable: "98%", selector: pdb.props.spec.selector }; // 49 of 50: one may go
        expect((await runStack(stackPolicyNamed("prod", "pdb-allows-drain-at-replicas"), resources)).violations).toEqual([]);
        pdb.props.spec.minAvailable = "99%"; // ceil(49.5) = 50 of 50: none may go
        expect((await runStack(stackPolicyNamed("prod", "pdb-allows-drain-at-replicas"), resources)).violations).toHaveLength(1);
    });

    it("ignores a budget that selects other pods", async () => {
        const resources = stackOf("staging");
        const pdb = k8s(resources, "PodDisruptionBudget");
        pdb.props.spec = { minAvailable: 3, selector: { matchLabels: { "app.kubernetes.io/name": "worker" } } };
        expect((await runStack(stackPolicyNamed("staging", "pdb-allows-drain-at-replicas"), resources)).violations).toEqual([]);
    });
});

describe("smoke-test-per-app", () => {
    const message =
        `Deployment ${appDeployment("prod")} has no SmokeTest: ` +
        "no progression:verify:SmokeTest (or dynamic resource named *-smoke) depends on it, so a broken rollout would pass `pulumi up` and be promoted unverified. Fix: add a SmokeTest with dependsOn the app, as components/environment.ts does (new SmokeTest(`${name}-smoke`, ..., { dependsOn: [app] })).";

    it("reports an app without a smoke test", async () => {
        const resources = stackOf("prod").filter((r) => !r.name.includes("-smoke"));
        const out = await runStack(stackPolicyNamed("prod", "smoke-test-per-app"), resources);
        expect(out).toEqual({ violations: [message], urns: [urnOf(k8s(resources, "Deployment"))], notApplicable: undefined });
    });

    it("reports a smoke test that does not depend on the app (it could run before the rollout)", async () => {
        const resources = stackOf("prod").map((r) => (r.name.includes("-smoke") ? { ...r, dependencies: [] } : r));
        expect((await runStack(stackPolicyNamed("prod", "smoke-test-per-app"), resources)).violations).toEqual([message]);
    });

    it("accepts a dependency on the app component alone, or a dynamic resource named *-smoke", async () => {
        const base = stackOf("prod").filter((r) => !r.name.includes("-smoke"));
        const appComponent = base.find((r) => r.type === "progression:app:AppDeployment")!;
        const viaComponent = [...base, { type: "progression:verify:SmokeTest", name: "prod-smoke", props: {}, dependencies: [urnOf(appComponent)] }];
        expect((await runStack(stackPolicyNamed("prod", "smoke-test-per-app"), viaComponent)).violations).toEqual([]);
        const dynamic = [...base, { type: "pulumi-nodejs:dynamic:Resource", name: "web-smoke", props: {}, dependencies: [urnOf(k8s(base, "Deployment"))] }];
        expect((await runStack(stackPolicyNamed("prod", "smoke-test-per-app"), dynamic)).violations).toEqual([]);
    });
});

describe("live-traffic-after-checks", () => {
    const RUN = "pulumi-nodejs:dynamic/progression:LiveSwitch";
    const liveRun = (resources: FakeResource[]) => resources.find((r) => r.type === RUN)!;
    const smokeUrns = (resources: FakeResource[]) => new Set(resources.filter((r) => r.name.includes("-smoke")).map((r) => urnOf(r)));
    /** `resources` with the live switch's dependencies (its run's and its component's) narrowed to those `keep` keeps. */
    const rewire = (resources: FakeResource[], keep: (urn: string, r: FakeResource) => boolean) =>
        resources.map((r) => (r.name.includes("-live") ? { ...r, dependencies: (r.dependencies ?? []).filter((d) => keep(d, r)) } : r));

    it("leaves a selector on the live Service alone: after a refresh its state holds the one the switch set", async () => {
        const resources = stackOf("prod");
        k8s(resources, "Service", "web").props.spec.selector = { "app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web-prod", "progression.dev/revision": "0123456789" };
        expect((await runStack(stackPolicyNamed("prod", "live-traffic-after-checks"), resources)).violations).toEqual([]);
    });

    it("reports a live switch that does not wait for the SmokeTest", async () => {
        const base = stackOf("prod");
        const checks = smokeUrns(base);
        const resources = rewire(base, (d) => !checks.has(d));
        const out = await runStack(stackPolicyNamed("prod", "live-traffic-after-checks"), resources);
        expect(out.violations).toEqual([
            "Live switch prod-live-run does not depend on a SmokeTest: it may point live traffic at the candidate revision before the candidate's checks passed on the preview route. " +
                "Fix: create the LiveSwitch with dependsOn the SmokeTest, as components/environment.ts does (new LiveSwitch(`${name}-live`, ..., { dependsOn: [smoke] })).",
        ]);
        expect(out.urns).toEqual([urnOf(liveRun(resources))]);
    });

    it("counts the wait when only the SmokeTest's run or only the switch component records it", async () => {
        const base = stackOf("dev");
        const checks = smokeUrns(base);
        const smokeRun = urnOf(base.find((r) => r.name.endsWith("-smoke-run"))!);
        // dependsOn a component records its children: the run that checks, not the SmokeTest itself.
        const viaRun = rewire(base, (d, r) => r.type === RUN && (d === smokeRun || !checks.has(d)));
        expect(liveRun(viaRun).dependencies).toContain(smokeRun);
        expect((await runStack(stackPolicyNamed("dev", "live-traffic-after-checks"), viaRun)).violations).toEqual([]);
        const viaComponent = rewire(base, (d, r) => r.type !== RUN || !checks.has(d));
        expect(liveRun(viaComponent).dependencies!.some((d) => checks.has(d))).toBe(false);
        expect((await runStack(stackPolicyNamed("dev", "live-traffic-after-checks"), viaComponent)).violations).toEqual([]);
    });

    it("judges the selector once the switched Service's name is known", async () => {
        const resources = stackOf("prod");
        k8s(resources, "Service", "web").props.spec.selector = { "app.kubernetes.io/name": "web" };
        liveRun(resources).props.service = UNKNOWN_STRING;
        expect(await runStack(stackPolicyNamed("prod", "live-traffic-after-checks"), resources)).toEqual({
            violations: [],
            urns: [],
            notApplicable: undefined,
        });
    });

    it("is not applicable to a stack without a live switch", async () => {
        const resources = stackOf("prod").filter((r) => !r.name.includes("-live"));
        expect((await runStack(stackPolicyNamed("prod", "live-traffic-after-checks"), resources)).notApplicable).toBe(
            "the stack has no live switch (pulumi-nodejs:dynamic/progression:LiveSwitch), so the program's Services carry live traffic as rendered",
        );
    });
});

describe("stack-environment", () => {
    const run = (policy: StackValidationPolicy, resources: FakeResource[], config: Record<string, unknown> = {}) => runStack(policy, resources, config);
    const policyFor = (stack: string, stackEnv: string | undefined) =>
        policies(resolveContext(stack, stackEnv)).find((p) => p.name === "stack-environment") as StackValidationPolicy;

    it("reports an object labelled with another environment", async () => {
        const resources = stackOf("prod");
        const svc = k8s(resources, "Service", "web");
        svc.props.metadata.labels.environment = "staging";
        const out = await run(stackPolicyNamed("prod", "stack-environment"), resources);
        expect(out).toEqual({
            violations: [
                'Service web-prod/web is labelled environment=staging, but stack "prod" deploys prod: an object of one environment in another\'s stack is judged by the wrong rules. Fix: label it environment=prod, or deploy it from the staging stack.',
            ],
            urns: [urnOf(svc)],
            notApplicable: undefined,
        });
    });

    it("reports policy config for another environment than the stack's", async () => {
        const out = await run(stackPolicyNamed("dev", "stack-environment"), stackOf("dev"), { environment: "prod" });
        expect(out.violations[0]).toBe(
            'Policy config judges this preview as prod, but stack "dev" deploys dev (from stack config env-progression:environment). Fix: preview with --policy-pack-config policy/config/dev.json, or select the prod stack.',
        );
    });

    it("reports a stack whose environment cannot be told", async () => {
        const out = await run(policyFor("preview-42", undefined), stackOf("prod"));
        expect(out.violations).toEqual([
            'Cannot tell which environment stack "preview-42" deploys: it has no valid env-progression:environment config and its name is not an environment, so every policy judged it by prod\'s rules. Fix: pulumi config set environment <dev|staging|prod>, or pass --policy-pack-config policy/config/<env>.json.',
        ]);
    });

    it("takes a preview stack's environment from its config", async () => {
        expect((await run(policyFor("preview-42", "staging"), stackOf("staging"))).violations).toEqual([]);
    });
});
