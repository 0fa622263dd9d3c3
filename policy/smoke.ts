// smoke-test-per-app: every app Deployment is verified after its rollout. A SmokeTest that fails
// fails `pulumi up`, so the next environment is never deployed; an app without one is promoted on
// the strength of "the API server accepted the Deployment".
import type { StackCheck, StackResource, StackViolation } from "./define";
import { subject } from "./manifest";

/** The SmokeTest component (components/smokeTest.ts). */
export const SMOKE_TEST_TYPE = "progression:verify:SmokeTest";

/** A resource that runs smoke checks: the component, or a dynamic resource named `*-smoke` / `*-smoke-run`. */
export function isSmokeTest(r: Pick<StackResource, "type" | "name">): boolean {
    return r.type === SMOKE_TEST_TYPE || (r.type.startsWith("pulumi-nodejs:dynamic") && /-smoke(-run)?$/.test(r.name));
}

/** Deployments no smoke test depends on (directly, or through a component that contains them). */
export function smokeCoverageProblems(resources: readonly StackResource[]): StackViolation[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const smokes = resources.filter(isSmokeTest);
    // A SmokeTest's children run the checks and repeat its dependsOn; either one's edges count.
    const smokeUrns = new Set(smokes.map((s) => s.urn));
    const runners = resources.filter((r) => r.parent !== undefined && smokeUrns.has(r.parent));
    const verified = new Set([...smokes, ...runners].flatMap((s) => s.dependencies));

    const ancestors = (r: StackResource): string[] => {
        const out: string[] = [];
        for (let p = r.parent; p !== undefined && !out.includes(p); p = byUrn.get(p)?.parent) out.push(p);
        return out;
    };
    return resources
        .filter((r) => r.manifest?.kind === "Deployment")
        .filter((d) => !verified.has(d.urn) && !ancestors(d).some((a) => verified.has(a)))
        .map((d) => ({
            message:
                `${subject(d.manifest!)} has no SmokeTest: no ${SMOKE_TEST_TYPE} (or dynamic resource named *-smoke) depends on it, ` +
                "so a broken rollout would pass `pulumi up` and be promoted unverified. " +
                "Fix: add a SmokeTest with dependsOn the app, as components/environment.ts does (new SmokeTest(`${name}-smoke`, ..., { dependsOn: [app] })).",
            urn: d.urn,
        }));
}

export const smokeTestPerApp: StackCheck<object> = {
    name: "smoke-test-per-app",
    description:
        "Every app Deployment has a SmokeTest that depends on it: the checks run after each rollout and a failure fails `pulumi up`, so a broken app " +
        "is never promoted to the next environment.",
    check: (resources) => smokeCoverageProblems(resources),
};
