// promotion-override: an update let past the promotion check is never silent. The program warns
// and exports the override in the stack output `promotion`; this policy reports it on every
// preview of the stack for as long as the config holds one. Advisory, in every environment: the
// override exists for an emergency change, which a mandatory violation would block again.
import { PROJECT } from "../config/schema";
import type { StackCheck, StackViolation } from "./define";
import type { PackContext } from "./environment";

export function promotionOverrideProblems(ctx: PackContext): StackViolation[] {
    const reason = ctx.promotionOverride;
    if (reason === undefined || reason === "") return [];
    const stack = ctx.stack ?? "this stack";
    return [
        {
            message:
                `${stack} deploys with ${PROJECT}:promotionOverride ${JSON.stringify(reason)}: it may run what its upstream stack's smoke checks never verified ` +
                "(the stack output 'promotion' lists what the override let through). Fix: once the upstream has verified what this stack runs, " +
                `pulumi config rm promotionOverride -s ${stack}`,
        },
    ];
}

export const promotionOverride: StackCheck<object> = {
    name: "promotion-override",
    description:
        "No promotion override is left in place: a stack with promotionOverride may run what its upstream's smoke checks never verified. " +
        "Advisory, so the emergency change the override is for still goes through.",
    enforcementLevel: "advisory",
    check: (_resources, _environment, _config, ctx) => promotionOverrideProblems(ctx),
};
