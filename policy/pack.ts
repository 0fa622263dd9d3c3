// The pack's contents, kept apart from index.ts (which starts the analyzer server) so tests and
// the config writer can build every policy without serving anything.
import type { EnforcementLevel, PolicyPackArgs, PolicyPackConfig, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { resourcePolicy, type ResourceCheck, stackPolicy, type StackCheck } from "./define";
import { pdbAllowsDrain, pdbAllowsDrainAtReplicas } from "./disruption";
import { enforcementFor, type PackContext } from "./environment";
import { stackEnvironment } from "./identity";
import { environmentIsolated } from "./environmentIsolated";
import { PACK_NAME } from "./name";
import { namespaceLabels } from "./namespaces";
import { defaultDeny, namespaceSelectors } from "./networkPolicies";
import { promotionHttpChecks, promotionOverride, promotionSource } from "./promotion";
import { liveTrafficAfterChecks } from "./release";
import { noPlainSecrets } from "./secrets";
import { serviceNotLoadBalancer } from "./services";
import { smokeTestPerApp } from "./smoke";
import { imagePinned, probesPresent, replicasMinimum, resourcesSet, restrictedSecurityContext } from "./workloads";

export { PACK_NAME };

// Checks are typed by their own config; the list only needs their shared shape.
type AnyResourceCheck = ResourceCheck<any>;
type AnyStackCheck = StackCheck<any>;

export const RESOURCE_CHECKS: readonly AnyResourceCheck[] = [
    namespaceLabels,
    namespaceSelectors,
    imagePinned,
    replicasMinimum,
    resourcesSet,
    restrictedSecurityContext,
    probesPresent,
    pdbAllowsDrain,
    serviceNotLoadBalancer,
    noPlainSecrets,
];

export const STACK_CHECKS: readonly AnyStackCheck[] = [
    environmentIsolated,
    defaultDeny,
    pdbAllowsDrainAtReplicas,
    smokeTestPerApp,
    liveTrafficAfterChecks,
    stackEnvironment,
    promotionSource,
    promotionHttpChecks,
    promotionOverride,
];

export function policies(ctx: PackContext): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [...RESOURCE_CHECKS.map((c) => resourcePolicy(ctx, c)), ...STACK_CHECKS.map((c) => stackPolicy(ctx, c))];
}

export function packArgs(ctx: PackContext): PolicyPackArgs {
    return {
        policies: policies(ctx),
        // Every policy takes the environment's level unless a config file says otherwise.
        enforcementLevel: enforcementFor(ctx),
        description: "Gates previews of env-progression stacks: what would hurt the environment, and how to fix it.",
        tags: ["kubernetes", "environments"],
    };
}

/**
 * The policy config pinning a preview to `environment`: its enforcement level for every policy and
 * the environment for each policy that judges by one. policy/config/<env>.json holds exactly this
 * (tests/policy/config.test.ts keeps them in step; `toolchain/run tsx policy/writeConfig.ts` rewrites them).
 */
export function packConfig(environment: EnvironmentName): PolicyPackConfig {
    const level: EnforcementLevel = ENVIRONMENT_RULES[environment].enforcement;
    const config: PolicyPackConfig = { all: level };
    for (const check of [...RESOURCE_CHECKS, ...STACK_CHECKS]) {
        if (check.configSchema && "environment" in check.configSchema) config[check.name] = { environment };
        // A policy's own level would otherwise give way to `all`.
        if (check.enforcementLevel) config[check.name] = { enforcementLevel: check.enforcementLevel };
    }
    return config;
}
