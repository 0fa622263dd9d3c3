// live-traffic-after-checks: users reach only a revision whose checks passed. The app runs as
// revisions; the SmokeTest checks the candidate on the preview Service, and the live switch
// (components/liveSwitch.ts) points the live Service at it only after that. Two things undo this
// without any error: a selector on the live Service in the program, which `pulumi up` applies
// itself (on the first deploy it sends users to the candidate before any check ran), and a live
// switch that does not wait for the SmokeTest.
import type { StackCheck, StackResource, StackViolation } from "./define";
import { NotApplicable } from "./define";
import { get, isObject, subject } from "./manifest";
import { isSmokeTest } from "./smoke";
import { isUnknown } from "./unknown";

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

        // Which Service it switches is known once the names are.
        const namespace = get(run.props, "namespace");
        const service = get(run.props, "service");
        if (typeof namespace !== "string" || typeof service !== "string") continue;
        for (const r of resources) {
            const svc = r.manifest;
            if (svc?.kind !== "Service" || get(svc, "metadata", "name") !== service || get(svc, "metadata", "namespace") !== namespace) continue;
            const selector = get(svc, "spec", "selector");
            // An empty selector is no selector; the keys of a partly unknown one are known.
            if (isUnknown(selector) || !isObject(selector) || Object.keys(selector).length === 0) continue;
            out.push({
                message:
                    `${subject(svc)} is the live Service, which the live switch points at a revision once its checks passed, but the program sets its selector (${Object.keys(selector).join(", ")}): ` +
                    "every `pulumi up` would point users at those pods itself, before any check ran, and fight the switch for the field. " +
                    "Fix: render the live Service without spec.selector (components/app.ts serviceManifest); the preview Service is the one that selects the candidate.",
                urn: r.urn,
            });
        }
    }
    return out;
}

export const liveTrafficAfterChecks: StackCheck<object> = {
    name: "live-traffic-after-checks",
    description:
        "Live traffic moves only to a revision whose checks passed: the live switch depends on the SmokeTest that checks the candidate on the preview route, " +
        "and the live Service it switches carries no selector in the program, so `pulumi up` never points users at pods by itself.",
    check: (resources) => liveTrafficProblems(resources),
};
