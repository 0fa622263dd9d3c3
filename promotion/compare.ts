// The promotion decision: may this stack deploy what it is configured with, given what its
// upstream stack verified? Pure: the program reads the upstream record and hands it here.
import type { EnvironmentName } from "../config/environments";
import { parseImage } from "../config/schema";
import { canonicalJson } from "./digest";
import type { VerifiedRecord } from "./record";
import { judgeKey, type KeyValue, type ParityRules, ruleFor } from "./rules";

/** What this stack is about to deploy. */
export interface Candidate {
    readonly stack: string;
    readonly environment: EnvironmentName;
    readonly image: string;
    readonly featureFlags: Readonly<Record<string, boolean>>;
    /** Reserved for a migration gate. @default - none */
    readonly migrationVersion?: string;
}

/** The upstream stack, and its record or why there is none. */
export interface Upstream {
    /** As the StackReference names it: `<org>/<project>/<stack>`. */
    readonly source: string;
    /** As `pulumi up -s` takes it from this project. */
    readonly stack: string;
    readonly record?: VerifiedRecord;
    /** Why there is no usable record (never deployed, unreadable, malformed). */
    readonly problem?: string;
}

export interface Difference {
    /** `record`, `image`, `featureFlags.<name>` or `migrationVersion`. */
    readonly field: string;
    /** What differs, both values, and the fix. */
    readonly message: string;
}

/** True when `candidate` runs the bytes `verified` names: the same digest, or the same name:tag when no digest was verified. */
export function sameImage(verified: string, candidate: string): boolean {
    const v = parseImage(verified);
    const c = parseImage(candidate);
    if (v.digest !== undefined) return c.digest === v.digest;
    return v.name === c.name && (v.tag ?? "latest") === (c.tag ?? "latest");
}

const quoteArg = (s: string) => (/^[A-Za-z0-9_.:/@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Every reason this candidate is not what upstream verified; empty when it is. */
export function promotionDifferences(candidate: Candidate, upstream: Upstream, rules: ParityRules): Difference[] {
    const { stack } = candidate;
    const up = upstream.stack;
    const record = upstream.record;
    if (record === undefined) {
        return [
            {
                field: "record",
                message:
                    `${stack} promotes from ${up} (${upstream.source}), and ${upstream.problem ?? "it has no verified record"}: nothing proves that what ${stack} is about to run works. ` +
                    `Fix: pulumi up -s ${up} first; ${stack} then deploys what ${up}'s smoke checks verified`,
            },
        ];
    }
    const out: Difference[] = [];
    const when = `checks passed ${record.passedAt}${record.commit ? ` at commit ${record.commit}` : ""}`;
    if (!sameImage(record.image, candidate.image)) {
        out.push({
            field: "image",
            message:
                `image: ${stack} would run ${candidate.image}, but ${up} verified ${record.image} (${when}). ` +
                `Fix: verify it in ${up} first: pulumi config set image ${quoteArg(candidate.image)} -s ${up} && pulumi up -s ${up}; ` +
                `or deploy what ${up} verified: pulumi config set image ${quoteArg(record.image)} -s ${stack}`,
        });
    }
    // The same rules and the same judge as `progression parity`, over the two environments.
    const judge = (key: string, verified: string | undefined, planned: string | undefined) => {
        const values: KeyValue[] = [
            { stack: `${up} (verified)`, environment: record.environment, compare: verified, display: verified ?? "", setValue: verified ?? "" },
            { stack, environment: candidate.environment, compare: planned, display: planned ?? "" },
        ];
        const finding = judgeKey(key, ruleFor(rules, key, false), values, rules.file);
        if (finding) out.push({ field: key, message: finding.message });
    };
    const flags = [...new Set([...Object.keys(record.featureFlags), ...Object.keys(candidate.featureFlags)])].sort();
    for (const flag of flags) {
        const v = record.featureFlags[flag];
        const c = candidate.featureFlags[flag];
        judge(`featureFlags.${flag}`, v === undefined ? undefined : canonicalJson(v), c === undefined ? undefined : canonicalJson(c));
    }
    if (record.migrationVersion !== undefined || candidate.migrationVersion !== undefined) {
        judge("migrationVersion", record.migrationVersion, candidate.migrationVersion);
    }
    return out;
}

export type PromotionStatus = "verified" | "overridden" | "refused" | "not-applicable";

export interface PromotionDecision {
    readonly status: PromotionStatus;
    readonly differences: readonly Difference[];
    /** For `refused`: the error. For `overridden`: the warning. Otherwise a note, or empty. */
    readonly message: string;
}

/**
 * Refused when anything differs, unless an override gives a reason; then overridden, with a
 * warning that names everything let through. An override with nothing to override is a note to
 * remove it, so none is left in place by accident.
 */
export function decidePromotion(candidate: Candidate, upstream: Upstream, rules: ParityRules, override: string | undefined): PromotionDecision {
    const differences = promotionDifferences(candidate, upstream, rules);
    const { stack } = candidate;
    const remove = `pulumi config rm promotionOverride -s ${stack}`;
    if (differences.length === 0) {
        return {
            status: "verified",
            differences,
            message:
                override === undefined
                    ? ""
                    : `promotionOverride is set (${JSON.stringify(override)}) but ${stack} runs what ${upstream.stack} verified: nothing to override. Fix: ${remove}`,
        };
    }
    const list = differences.map((d) => `  - ${d.message}`).join("\n");
    if (override !== undefined) {
        return {
            status: "overridden",
            differences,
            message:
                `PROMOTION OVERRIDDEN for ${stack} (${JSON.stringify(override)}): deploying what ${upstream.stack} did not verify:\n${list}\n` +
                `The override is in the stack output 'promotion' and the policy pack reports it. Once ${upstream.stack} has verified what ${stack} runs: ${remove}`,
        };
    }
    return {
        status: "refused",
        differences,
        message:
            `${stack} refuses to deploy what ${upstream.stack} has not verified (promotion from ${upstream.source}); nothing was created:\n${list}\n` +
            `In an emergency only: pulumi config set promotionOverride '<why, and who approved>' -s ${stack} (warned, exported and reported by the policy pack).`,
    };
}

/** The stack output `promotion`: how this update was let through. */
export interface PromotionOutput {
    /** The upstream stack, or null where the environment promotes from none. */
    readonly source: string | null;
    readonly status: Exclude<PromotionStatus, "refused">;
    /** The override's reason, or null. */
    readonly override: string | null;
    /** What the override let through (empty otherwise). */
    readonly overridden: readonly string[];
    /** The upstream record this update was checked against. */
    readonly checkedAgainst: { readonly passedAt: string; readonly trigger: string; readonly image: string } | null;
}

/** Where the environment promotes from no stack. */
export const NO_PROMOTION: PromotionOutput = { source: null, status: "not-applicable", override: null, overridden: [], checkedAgainst: null };

/** The output for an update the decision let through (a refused one never gets that far). */
export function promotionOutput(upstream: Upstream, decision: PromotionDecision, override: string | undefined): PromotionOutput {
    const r = upstream.record;
    const overridden = decision.status === "overridden";
    return {
        source: upstream.source,
        status: overridden ? "overridden" : "verified",
        override: override ?? null,
        overridden: overridden ? decision.differences.map((d) => d.message) : [],
        checkedAgainst: r ? { passedAt: r.passedAt, trigger: r.trigger, image: r.image } : null,
    };
}
