// The promotion check, the program's shell over promotion/compare.ts: read the upstream stack's
// `verified` output through a StackReference, and refuse, before any resource of this
// environment is registered, what the upstream did not verify. A StackReference is read during
// `pulumi preview` too, so a preview refuses exactly what an `up` would.
import * as pulumi from "@pulumi/pulumi";
import { promotionSource, type PromotionSource } from "../config/groups/promotion";
import type { EnvironmentConfig } from "../config/schema";
import { type Candidate, decidePromotion, NO_PROMOTION, promotionOutput, type PromotionOutput, type Upstream } from "../promotion/compare";
import { parseVerifiedRecord } from "../promotion/record";
import type { ParityRules } from "../promotion/rules";

/** The stack output naming what a stack verified; the next environment reads it. */
export const VERIFIED_OUTPUT = "verified";

/** What this stack is about to deploy, in the terms promotion compares. */
export function candidateOf(config: EnvironmentConfig): Candidate {
    const migrationVersion = config.migration?.sources?.version;
    return {
        stack: config.stack,
        environment: config.environment,
        image: config.app.image,
        featureFlags: config.app.featureFlags,
        ...(migrationVersion !== undefined ? { migrationVersion } : {}),
    };
}

/**
 * Checks this stack's candidate against its upstream's verified record. Throws a RunError (the
 * message alone, no stack trace) when refused; warns when an override lets it through. Returns
 * the stack output `promotion`.
 */
export async function checkPromotion(config: EnvironmentConfig, rules: ParityRules): Promise<PromotionOutput> {
    const source = promotionSource(config, pulumi.getOrganization(), pulumi.getProject());
    if (source === undefined) return NO_PROMOTION;
    const upstream = await readUpstream(source);
    const override = config.promotion.override;
    const decision = decidePromotion(candidateOf(config), upstream, rules, override);
    if (decision.status === "refused") throw new pulumi.RunError(decision.message);
    // Awaited: the warning is on the engine's record before any resource of the update is.
    if (decision.message !== "") await pulumi.log.warn(decision.message);
    return promotionOutput(upstream, decision, override);
}

/** The engine's builtin function a StackReference reads with. */
export const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";

/**
 * A StackReference to a stack that does not exist fails the whole update with the engine's bare
 * `unknown stack` error, and no program code can catch a failed read. The engine's builtin
 * function that reads stack outputs fails catchably instead, so it is asked first, only to turn
 * a missing stack into a message that says what to run. Any other failure of it is left to the
 * StackReference, which reports it itself.
 */
async function missingStack(source: PromotionSource): Promise<string | undefined> {
    try {
        await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: source.name });
        return undefined;
    } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (!/unknown stack/i.test(message)) return undefined;
        return `it does not exist in this backend (create it first: pulumi stack init ${source.stack}, and set its config)`;
    }
}

async function readUpstream(source: PromotionSource): Promise<Upstream> {
    const missing = await missingStack(source);
    if (missing !== undefined) return { source: source.name, stack: source.stack, problem: missing };
    const ref = new pulumi.StackReference("promotion-source", { name: source.name });
    try {
        const details = await ref.getOutputDetails(VERIFIED_OUTPUT);
        const parsed = parseVerifiedRecord(details.value ?? details.secretValue);
        return parsed.record !== undefined
            ? { source: source.name, stack: source.stack, record: parsed.record }
            : { source: source.name, stack: source.stack, problem: parsed.problem };
    } catch (err) {
        return { source: source.name, stack: source.stack, problem: `it cannot be read (${err instanceof Error ? err.message : String(err)})` };
    }
}
