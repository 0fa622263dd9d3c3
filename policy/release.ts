// live-traffic-after-checks: users reach only a revision whose checks passed. The app runs as
// revisions; the SmokeTest checks the candidate on the preview Service, and the live switch
// (components/liveSwitch.ts) points the live Service at it only after that. A live switch that does
// not wait for the SmokeTest undoes this without any error. (The live Service's selector is not
// judged here: a stack policy sees a resource's state, which after a refresh holds the selector
// the switch set.)
import type { StackCheck, StackResource, StackViolation } from "./define";
import { NotApplicable } from "./define";
import { isSmokeTest } from "./smoke";

/** The LiveSwitch component, and the dynamic resource that runs the switch (its props name the live Service). */
export const LIVE_SWITCH_TYPE = "progression:release:LiveSwitch";
export const LIVE_SWITCH_RUN_TYPE = "pulumi-nodejs:dynamic/progression:LiveSwitch";

export function liveTrafficProblems(resources: readonly StackResource[]): StackViolation[] {
    const runs = resources.filter((r) => r.type === LIVE_SWITCH_RUN_TYPE);
    if (runs.length === 0)
        throw new NotApplicable(`the stack has no live switch (${LIVE_SWITCH_RUN_TYPE}), so the program's Services carry live traffic as rendered`);
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    // `dependsOn` a SmokeTest component records its children (the run that checks), not the component.
    const smokes = new Set(resources.filter(isSmokeTest).map((r) => r.urn));
    const checks = (urn: string) => smokes.has(urn) || smokes.has(byUrn.get(urn)?.parent ?? "");

    const out: StackViolation[] = [];
    for (const run of runs) {
        const parent = run.parent === undefined ? undefined : byUrn.get(run.parent);
        const edges = [...run.dependencies, ...(parent?.type === LIVE_SWITCH_TYPE ? parent.dependencies : [])];
        if (!edges.some(checks)) {
            out.push({
                message:
                    `Live switch ${run.name} does not depend on a SmokeTest: it may point live traffic at the candidate revision before the candidate's checks passed on the preview route. ` +
                    "Fix: create the LiveSwitch with dependsOn the SmokeTest, as components/environment.ts does (new LiveSwitch(`${name}-live`, ..., { dependsOn: [smoke] })).",
                urn: run.urn,
            });
        }

    }
    return out;
}

export const liveTrafficAfterChecks: StackCheck<object> = {
    name: "live-traffic-after-checks",
    description:
        "Live traffic moves only to a revision whose checks passed: the live switch depends on the SmokeTest that checks the candidate on the preview route.",
    check: (resources) => liveTrafficProblems(resources),
};
