// stack-environment: one stack, one environment. The environment the pack judges by (policy
// config, stack config, stack name) must be known and agree, and every object the stack labels
// with an environment must carry that one; a prod object in the staging stack would be judged by
// staging's rules and promoted around the gates. Namespaces are left to namespace-labels, so a
// wrong namespace label is reported once.
import type { EnvironmentName } from "../config/environments";
import { PROJECT } from "../config/schema";
import { ENVIRONMENT_LABEL } from "../kube/labels";
import type { StackCheck, StackResource, StackViolation } from "./define";
import { ENVIRONMENT_CONFIG, type PackContext } from "./environment";
import { get, stringMap, subject } from "./manifest";
import { isUnknown } from "./unknown";

export function stackEnvironmentProblems(resources: readonly StackResource[], configured: EnvironmentName | undefined, ctx: PackContext): StackViolation[] {
    const stack = ctx.stack === undefined ? "this stack" : `stack ${JSON.stringify(ctx.stack)}`;
    const out: StackViolation[] = [];
    const environment = configured ?? ctx.environment;
    if (environment === undefined) {
        return [
            {
                message:
                    `Cannot tell which environment ${stack} deploys: it has no valid ${PROJECT}:environment config and its name is not an environment, ` +
                    `so every policy judged it by prod's rules. Fix: pulumi config set environment <dev|staging|prod>, or pass --policy-pack-config policy/config/<env>.json.`,
            },
        ];
    }
    if (configured !== undefined && ctx.environment !== undefined && configured !== ctx.environment) {
        out.push({
            message:
                `Policy config judges this preview as ${configured}, but ${stack} deploys ${ctx.environment} (from ${ctx.source}). ` +
                `Fix: preview with --policy-pack-config policy/config/${ctx.environment}.json, or select the ${configured} stack.`,
        });
    }
    for (const r of resources) {
        if (r.manifest === undefined || r.manifest.kind === "Namespace") continue;
        const labels = stringMap(get(r.manifest, "metadata", "labels"));
        const env = isUnknown(labels) ? undefined : labels[ENVIRONMENT_LABEL];
        if (typeof env === "string" && env !== environment) {
            out.push({
                message:
                    `${subject(r.manifest)} is labelled ${ENVIRONMENT_LABEL}=${env}, but ${stack} deploys ${environment}: ` +
                    `an object of one environment in another's stack is judged by the wrong rules. Fix: label it ${ENVIRONMENT_LABEL}=${environment}, or deploy it from the ${env} stack.`,
                urn: r.urn,
            });
        }
    }
    return out;
}

export const stackEnvironment: StackCheck<{ environment: EnvironmentName }> = {
    name: "stack-environment",
    description:
        "The stack deploys one known environment: the policy config, the stack's environment config and the stack name agree, and every object " +
        "labelled with an environment carries the stack's (Namespaces: see namespace-labels).",
    configSchema: ENVIRONMENT_CONFIG,
    check: (resources, _environment, config, ctx) => stackEnvironmentProblems(resources, config.environment, ctx),
};
