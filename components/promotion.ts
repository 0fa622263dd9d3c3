// The promotion check, the program's shell over promotion/compare.ts: read the upstream stack's
// `verified` and `verifiedHistory` outputs through a StackReference, and this stack's own last
// `verifiedHistory` through the engine's builtin read, and refuse, before any resource of this
// environment is registered, what no signed record vouches for. Both reads happen during
// `pulumi preview` too, so a preview refuses exactly what an `up` would.
import { setTimeout as sleep } from "node:timers/promises";
import * as pulumi from "../resources/pulumi";
import { ownStackName, promotionSource, type PromotionSource } from "../config/groups/promotion";
import type { EnvironmentConfig } from "../config/schema";
import { type Candidate, decidePromotion, NO_PROMOTION, promotionOutput, type PromotionOutput, type RecordSource } from "../promotion/compare";
import type { Check } from "../smoke";
import type { ParityRules } from "../promotion/rules";
import { NO_PROVENANCE, verifiedSubject } from "./verifiedSubject";

/** The stack output naming what a stack verified; the next environment reads it. */
export const VERIFIED_OUTPUT = "verified";
/** The stack output listing the signed records of its verified revisions, newest first. */
export const HISTORY_OUTPUT = "verifiedHistory";

/** What this stack is about to deploy, in the terms promotion compares: the subject its own checks would verify. */
export function candidateOf(config: EnvironmentConfig, checks?: readonly Check[]): Candidate {
    return { stack: config.stack, ...verifiedSubject(config, NO_PROVENANCE, checks) };
}

export interface PromotionCheckArgs {
    readonly config: EnvironmentConfig;
    readonly rules: ParityRules;
    /** The checks this stack runs (undefined: the engine's defaults). */
    readonly checks?: readonly Check[];
    /** The promotionKey's value. */
    readonly key: string;
    /** @default - the clock */
    readonly now?: Date;
}

/**
 * Checks this stack's candidate against the signed records of its upstream and its own past.
 * Throws a RunError (the message alone, no stack trace) when refused; warns when an override
 * lets it through. Returns the stack output `promotion`, and this stack's own last
 * `verifiedHistory` as read (for the next history).
 */
export async function checkPromotion(args: PromotionCheckArgs): Promise<{ output: PromotionOutput; ownHistory: unknown }> {
    const { config } = args;
    const org = pulumi.getOrganization();
    const project = pulumi.getProject();
    const source = promotionSource(config, org, project);
    // The two reads are independent: side by side, an update waits for one engine round trip, not two.
    const [own, upstream] = await Promise.all([
        readOwnStack({ name: ownStackName(config.stack, org, project), stack: config.stack }),
        source === undefined ? undefined : readUpstream(source),
    ]);
    if (source === undefined || upstream === undefined) return { output: NO_PROMOTION, ownHistory: own.history };
    const override = config.promotion.override;
    const decision = decidePromotion({
        candidate: candidateOf(config, args.checks),
        upstreamEnvironment: source.environment,
        upstream,
        own,
        rules: args.rules,
        ...(override ? { override } : {}),
        key: args.key,
        maxAgeMs: config.promotion.maxAgeMs,
        now: args.now ?? new Date(),
    });
    if (decision.status === "refused") throw new pulumi.RunError(decision.message);
    // Awaited: the warning is on the engine's record before any resource of the update is.
    if (decision.message !== "") await pulumi.log.warn(decision.message);
    return { output: promotionOutput(upstream, decision, override), ownHistory: own.history };
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
async function missingStack(source: Pick<PromotionSource, "name" | "stack">): Promise<string | undefined> {
    try {
        await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: source.name });
        return undefined;
    } catch (err) {
        return upstreamReadProblem(err instanceof Error ? err.message : String(err), source.stack);
    }
}

/**
 * What a failed read of the upstream's outputs means, with the fix; undefined for a failure the
 * StackReference reports itself. Pulumi Cloud refuses a token without read access to the stack
 * (403), or answers as if the stack did not exist (404): a Pulumi Deployments deployment started
 * by a push or a webhook runs with a token of its own stack only.
 */
export function upstreamReadProblem(message: string, stack: string): string | undefined {
    const access =
        `the credentials of this update may not read ${stack}. Fix: give them stack read on ${stack}: ` +
        `in GitHub Actions the environment's team gets it from delivery/deployments (TeamStackPermission); ` +
        `in Pulumi Deployments choose a Pulumi Cloud role with stack:read on ${stack} for this stack's deployments (Settings, Deploy, Advanced: Pulumi Cloud role; docs/delivery.md)`;
    if (/unknown stack/i.test(message)) return `it does not exist in this backend (create it first: pulumi stack init ${stack}, and set its config)`;
    if (/\b403\b|forbidden|unauthori[sz]ed|not authorized|permission denied/i.test(message)) return `it cannot be read: ${access}`;
    if (/\b404\b|not found/i.test(message)) return `it was not found: either it does not exist (create it first: pulumi stack init ${stack}) or ${access}`;
    return undefined;
}

/** The upstream's outputs, through a StackReference: the state records which stack this one read. */
async function readUpstream(source: PromotionSource): Promise<RecordSource> {
    const base = { source: source.name, stack: source.stack };
    const missing = await missingStack(source);
    if (missing !== undefined) return { ...base, problem: missing };
    const ref = new pulumi.StackReference("promotion-source", { name: source.name });
    try {
        const [verified, history] = await Promise.all([ref.getOutputDetails(VERIFIED_OUTPUT), ref.getOutputDetails(HISTORY_OUTPUT)]);
        return { ...base, verified: verified.value ?? verified.secretValue, history: history.value ?? history.secretValue };
    } catch (err) {
        return { ...base, problem: `it cannot be read (${err instanceof Error ? err.message : String(err)})` };
    }
}

/** How often the own stack's read is tried, and the pause between tries. */
export const OWN_READ = { attempts: 5, pauseMs: 100 } as const;

/** A read that met a checkpoint being written: the next try reads it whole. */
const TORN_CHECKPOINT = /failed to load checkpoint/i;

/**
 * This stack's own last outputs, through the engine's builtin read, not a StackReference. The
 * read meets the checkpoint this very update is writing: a file backend rewrites each blob's
 * metadata sidecar in place, so a read at the wrong moment fails with `failed to load
 * checkpoint: EOF`. A StackReference's failed read fails the whole update; this one is caught and
 * tried again. What still fails after the last try is the own history's problem: the verdict then
 * stands on the upstream's records alone, and a refusal says the own history was not read.
 */
async function readOwnStack(own: Pick<PromotionSource, "name" | "stack">): Promise<RecordSource> {
    const base = { source: own.name, stack: own.stack };
    for (let attempt = 1; ; attempt++) {
        try {
            const read = (await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: own.name })) as { outputs?: Record<string, unknown> };
            return { ...base, verified: read.outputs?.[VERIFIED_OUTPUT], history: read.outputs?.[HISTORY_OUTPUT] };
        } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            if (attempt < OWN_READ.attempts && TORN_CHECKPOINT.test(message)) {
                await sleep(OWN_READ.pauseMs);
                continue;
            }
            return { ...base, problem: `it cannot be read (${message})` };
        }
    }
}
