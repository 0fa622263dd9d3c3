// Which environment a preview is judged as. In order:
//   1. the policy's own config `environment` (the per-environment files in policy/config/ set it
//      for every policy), so a pack run can be pinned explicitly;
//   2. the stack's `env-progression:environment` config, which the program itself deploys (and
//      validates against the stack name);
//   3. the stack name, when it is an environment name.
// The engine hands a policy pack the stack's name and config before it starts (PULUMI_NODEJS_STACK
// and PULUMI_CONFIG), so 2 and 3 are known at load time and also set the pack's enforcement level.
// When none applies, checks judge by prod's rules (fail closed) and `stack-environment` says why.
import * as pulumi from "@pulumi/pulumi";
import { ENVIRONMENT_RULES, type EnvironmentName, isEnvironmentName } from "../config/environments";
import { PROJECT } from "../config/schema";
import type { EnforcementLevel } from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";

export interface PackContext {
    /** The stack being previewed, or undefined outside the engine (tests). */
    readonly stack: string | undefined;
    /** The stack's raw `env-progression:environment` config, if set. */
    readonly stackEnvironment: string | undefined;
    /** The environment derived from the stack (2, then 3 above), if any. */
    readonly environment: EnvironmentName | undefined;
    /** Where `environment` came from, for messages. */
    readonly source: string;
    /** The stack's `env-progression:ingressNamespace` config, if set. */
    readonly ingressNamespace?: string | undefined;
    /** The stack's `env-progression:promotionOverride` config as text (JSON of {reason, digest, expires}), if set. */
    readonly promotionOverride?: string | undefined;
    /** The stack's `env-progression:promoteFrom` config, if set. */
    readonly promoteFrom?: string | undefined;
    /** The stack's `env-progression:smokeCommand` config, if set. */
    readonly smokeCommand?: string | undefined;
}

/** The promotion settings a pack judges, as the engine hands them. */
export interface PromotionSettings {
    readonly promoteFrom?: string | undefined;
    readonly smokeCommand?: string | undefined;
}

/** Pure: the context from what the engine told the pack. */
export function resolveContext(
    stack: string | undefined,
    stackEnvironment: string | undefined,
    ingressNamespace?: string,
    promotionOverride?: string,
    promotion: PromotionSettings = {},
): PackContext {
    const s = stack === "" ? undefined : stack;
    const base = {
        stack: s,
        stackEnvironment,
        ...(ingressNamespace ? { ingressNamespace } : {}),
        ...(promotionOverride ? { promotionOverride } : {}),
        ...(promotion.promoteFrom ? { promoteFrom: promotion.promoteFrom } : {}),
        ...(promotion.smokeCommand ? { smokeCommand: promotion.smokeCommand } : {}),
    };
    if (stackEnvironment !== undefined && isEnvironmentName(stackEnvironment)) {
        return { ...base, environment: stackEnvironment, source: `stack config ${PROJECT}:environment` };
    }
    if (s !== undefined && isEnvironmentName(s)) {
        return { ...base, environment: s, source: `stack name ${JSON.stringify(s)}` };
    }
    return { ...base, environment: undefined, source: "nothing (no environment config, stack name not an environment)" };
}

/** The context of the running pack: the stack the engine is previewing. */
export function engineContext(): PackContext {
    let stack: string | undefined;
    let env: string | undefined;
    let ingress: string | undefined;
    let override: string | undefined;
    let promoteFrom: string | undefined;
    let smokeCommand: string | undefined;
    try {
        stack = pulumi.getStack();
        const config = new pulumi.Config(PROJECT);
        env = config.get("environment");
        ingress = config.get("ingressNamespace");
        override = config.get("promotionOverride");
        promoteFrom = config.get("promoteFrom");
        smokeCommand = config.get("smokeCommand");
    } catch {
        // Outside an engine run (e.g. `node policy` by hand) there is no stack; fall through.
    }
    return resolveContext(stack, env, ingress, override?.trim(), { promoteFrom: promoteFrom?.trim(), smokeCommand });
}

/** What a policy's `environment` config may hold. */
export const ENVIRONMENT_CONFIG: Readonly<Record<"environment", PolicyConfigJSONSchema>> = {
    environment: {
        type: "string",
        enum: Object.keys(ENVIRONMENT_RULES),
        description: "The environment to judge by. @default - the stack's env-progression:environment config, then the stack name",
    },
};

/** The environment a check judges by: policy config, then the stack, then prod (fail closed). */
export function judgedEnvironment(ctx: PackContext, config: { environment?: unknown }): EnvironmentName {
    if (isEnvironmentName(config.environment)) return config.environment;
    return ctx.environment ?? "prod";
}

/** The pack's default enforcement: the environment's, mandatory when the environment is unknown. */
export function enforcementFor(ctx: PackContext): EnforcementLevel {
    return ctx.environment === undefined ? "mandatory" : ENVIRONMENT_RULES[ctx.environment].enforcement;
}
