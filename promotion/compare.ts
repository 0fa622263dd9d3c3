// The promotion decision: may this stack deploy what it is configured with, given the records
// its upstream (and its own past) verified? Pure: the program reads the records, the key and the
// clock, and hands them here.
//
// A record counts only when, in this order: its signature under the project's promotionKey
// holds (nothing else is looked at before that); it belongs to this project and to the
// environment it must come from (the environment table's upstream, or this environment for its
// own history); it is younger than promotionMaxAge; it was verified strongly enough (an upstream
// whose enforcement is mandatory must have run the project's standard HTTP checks); and then
// everything that decides what runs equals what the candidate would run, or a parity rule with a
// reason allows the difference.
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { parseImage } from "../config/schema";
import { canonicalJson } from "./digest";
import { historyEntries, parseVerifiedRecord, type SignedVerifiedRecord, type VerifiedSubject } from "./record";
import { judgeKey, type KeyValue, type ParityRules, ruleFor } from "./rules";

/** What this stack is about to deploy: the subject its own checks would verify, and the stack. */
export interface Candidate extends VerifiedSubject {
    readonly stack: string;
}

/** A stack whose outputs were read: its `verified` and `verifiedHistory`, or why they could not be. */
export interface RecordSource {
    /** As the StackReference names it: `<org>/<project>/<stack>`. */
    readonly source: string;
    /** As `pulumi up -s` takes it from this project. */
    readonly stack: string;
    /** The raw `verified` output. */
    readonly verified?: unknown;
    /** The raw `verifiedHistory` output. */
    readonly history?: unknown;
    /** Why the stack's outputs cannot be read (it does not exist, it is unreadable). */
    readonly problem?: string;
}

/** `promotionOverride`: one image digest let through until a time, and why. */
export interface Override {
    readonly reason: string;
    /** `sha256:<hex>`: the only digest it lets through. */
    readonly digest: string;
    /** ISO 8601: it lets nothing through from then on. */
    readonly expires: string;
}

/** How far ahead an override may expire: an emergency lasts days, not a release cycle. */
export const MAX_OVERRIDE_MS = 7 * 24 * 3600_000;
/** How far in the future a record's passedAt may lie (clock skew between machines). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface PromotionInput {
    readonly candidate: Candidate;
    /** The environment table's upstream of the candidate's environment. */
    readonly upstreamEnvironment: EnvironmentName;
    readonly upstream: RecordSource;
    /** This stack's own last outputs, for its `verifiedHistory`. @default - none read */
    readonly own?: RecordSource;
    readonly rules: ParityRules;
    /** @default - none */
    readonly override?: Override;
    /** The project's promotionKey. */
    readonly key: string;
    /** promotionMaxAge. */
    readonly maxAgeMs: number;
    readonly now: Date;
}

export interface Difference {
    /** `record`, `source`, `age`, `verification`, `image`, or a config key (`featureFlags.<name>`, `env.<NAME>`, `migrationImage`, ...). */
    readonly field: string;
    /** What differs, both values, and the fix. */
    readonly message: string;
}

export type PromotionStatus = "verified" | "overridden" | "refused" | "not-applicable";

/** The record a decision was made against, and where it came from. */
export interface Against {
    /** `staging`, `staging's verifiedHistory[2]`, `prod's own verifiedHistory[1]`. */
    readonly origin: string;
    readonly record: SignedVerifiedRecord;
}

export interface PromotionDecision {
    readonly status: PromotionStatus;
    /** Against the upstream's current record (what is refused or overridden). */
    readonly differences: readonly Difference[];
    /** For `refused`: the error. For `overridden`: the warning. Otherwise a note, or empty. */
    readonly message: string;
    /** The record that let the update through. */
    readonly against?: Against;
}

const quoteArg = (s: string) => (/^[A-Za-z0-9_.:/@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
const DAY = 24 * 3600_000;

/** A duration as people say it: `30d`, `12h`, `5m`, `40s`. */
export function formatAge(ms: number): string {
    if (ms >= DAY && ms % DAY === 0) return `${ms / DAY}d`;
    if (ms >= DAY) return `${(ms / DAY).toFixed(1)}d`;
    if (ms >= 3600_000) return `${(ms / 3600_000).toFixed(1).replace(/\.0$/, "")}h`;
    if (ms >= 60_000) return `${Math.round(ms / 60_000)}m`;
    return `${Math.round(ms / 1000)}s`;
}

/** Why `candidate` would not run the bytes `record` verified; undefined when it would. */
export function imageProblem(candidate: Candidate, record: SignedVerifiedRecord, up: string): string | undefined {
    const c = parseImage(candidate.image);
    const v = parseImage(record.image);
    const { stack } = candidate;
    const when = `checks passed ${record.passedAt}${record.commit ? ` at commit ${record.commit}` : ""}`;
    const verifyFirst = `verify it in ${up} first: pulumi config set image ${quoteArg(candidate.image)} -s ${up} && pulumi up -s ${up}`;
    if (c.name !== v.name) {
        return (
            `image: ${stack} would run ${candidate.image} from ${c.name}, but ${up} verified ${record.image} from ${v.name} (${when}); a digest vouches for bytes within one repository only. ` +
            `Fix: ${verifyFirst}; or deploy what ${up} verified: pulumi config set image ${quoteArg(record.image)} -s ${stack}`
        );
    }
    const ran = record.ranDigest;
    const ranImage = ran === null ? undefined : `${v.name}${v.tag ? `:${v.tag}` : ""}@${ran}`;
    if (ENVIRONMENT_RULES[candidate.environment].requireImageDigest) {
        if (ran === null) {
            return (
                `image: ${stack} requires a digest, and ${up}'s record names no digest its pods ran (ranDigest null; it verified ${record.image}, ${when}), so nothing proves which bytes ${up} verified. ` +
                `Fix: pulumi up -s ${up} with this program, which records the digest its ready pods ran, then pin that digest in ${stack}`
            );
        }
        if (c.digest !== ran) {
            return (
                `image: ${stack} would run ${candidate.image}, but ${up}'s pods ran ${ranImage} (it verified ${record.image}, ${when}); only the digest ${up}'s pods ran is verified. ` +
                `Fix: deploy what ${up} ran: pulumi config set image ${quoteArg(ranImage!)} -s ${stack}; or ${verifyFirst}`
            );
        }
        return undefined;
    }
    const otherwise = `or deploy what ${up} verified: pulumi config set image ${quoteArg(record.image)} -s ${stack}`;
    if (v.digest !== undefined) {
        return c.digest === v.digest ? undefined : `image: ${stack} would run ${candidate.image}, but ${up} verified ${record.image} (${when}). Fix: ${verifyFirst}; ${otherwise}`;
    }
    if (c.digest !== undefined && ran !== null) {
        // A tag verified upstream is bound to the digest upstream's pods ran, not to whatever the tag names later.
        return c.digest === ran
            ? undefined
            : `image: ${stack} pins ${candidate.image}, but ${up} verified the tag ${record.image}, and its pods ran ${ranImage} (${when}). Fix: deploy what ${up} ran: pulumi config set image ${quoteArg(ranImage!)} -s ${stack}; or ${verifyFirst}`;
    }
    // The same tag. Where the upstream's record names no digest that ran, a stack that requires
    // none may pin one: its own checks verify that digest, and the next stack binds to what its pods ran.
    if ((v.tag ?? "latest") !== (c.tag ?? "latest")) return `image: ${stack} would run ${candidate.image}, but ${up} verified ${record.image} (${when}). Fix: ${verifyFirst}; ${otherwise}`;
    return undefined;
}

/** The parity rules' verdicts on everything else that decides what runs (the same judge as `progression parity`). */
function judged(candidate: Candidate, record: SignedVerifiedRecord, up: string, rules: ParityRules, skipChecks: boolean): Difference[] {
    const out: Difference[] = [];
    const judge = (key: string, verified: string | null | undefined, planned: string | null | undefined) => {
        const v = verified ?? undefined;
        const p = planned ?? undefined;
        if (v === p) return;
        const values: KeyValue[] = [
            { stack: `${up} (verified)`, environment: record.environment, compare: v, display: v ?? "", setValue: v ?? "" },
            { stack: candidate.stack, environment: candidate.environment, compare: p, display: p ?? "" },
        ];
        const finding = judgeKey(key, ruleFor(rules, key, false), values, rules.file);
        if (finding) out.push({ field: key, message: finding.message });
    };
    const perKey = <T>(prefix: string, a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>, text: (x: T) => string) => {
        for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
            const x = a[k];
            const y = b[k];
            judge(`${prefix}.${k}`, x === undefined ? undefined : text(x), y === undefined ? undefined : text(y));
        }
    };
    perKey("featureFlags", record.featureFlags, candidate.featureFlags, (f) => canonicalJson(f));
    perKey("env", record.env, candidate.env, (s) => s);
    judge("migrationVersion", record.migrationVersion, candidate.migrationVersion);
    judge("migrationImage", record.migrationImage, candidate.migrationImage);
    judge("migrationCommand", record.migrationCommand, candidate.migrationCommand);
    judge("migrationJobCommand", record.migrationJobCommand, candidate.migrationJobCommand);
    if (!skipChecks) judge("smokeChecks", record.verification.checksDigest, candidate.verification.checksDigest);
    return out;
}

interface Judged {
    readonly record?: SignedVerifiedRecord;
    readonly differences: readonly Difference[];
}

/** Every reason one record does not vouch for the candidate; empty when it does. */
export function judgeRecord(input: PromotionInput, value: unknown, from: { readonly source: string; readonly stack: string; readonly environment: EnvironmentName }): Judged {
    const { candidate, key, now, maxAgeMs } = input;
    const { stack } = candidate;
    const up = from.stack;
    const parsed = parseVerifiedRecord(value, key);
    if (parsed.record === undefined) {
        const fix = /signature|not signed/.test(parsed.problem)
            ? `Fix: make sure every stack of the project holds the same promotionKey (pulumi config set --secret promotionKey "<the project's key>" -s ${up}), then pulumi up -s ${up} so it exports a record signed with it; never edit a record by hand`
            : /malformed|format/.test(parsed.problem)
              ? `Fix: run ${up}'s checks again with this program, so they record what it compares: pulumi config set smokeEveryUp true -s ${up} && pulumi up -s ${up}`
              : `Fix: pulumi up -s ${up} first; ${stack} then deploys what ${up}'s smoke checks verified`;
        return { differences: [{ field: "record", message: `${stack} promotes from ${up} (${from.source}), and ${parsed.problem}: nothing proves that what ${stack} is about to run works. ${fix}` }] };
    }
    const record = parsed.record;
    if (record.project !== candidate.project || record.environment !== from.environment) {
        const what = record.project !== candidate.project ? `project ${record.project}'s ${record.environment}` : record.environment;
        return {
            record,
            differences: [
                {
                    field: "source",
                    message:
                        `${stack} may deploy only what ${from.environment} of project ${candidate.project} verified (the environment table's upstream), but the record at ${from.source} was verified by ${what}. ` +
                        `Fix: pulumi config rm promoteFrom -s ${stack} (promotes from ${from.environment} of this project), or point promoteFrom at ${from.environment}'s stack; then pulumi up -s ${from.environment} first`,
                },
            ],
        };
    }
    const age = now.getTime() - Date.parse(record.passedAt);
    const rerun = `Fix: run ${up}'s checks again, so it exports a fresh record: pulumi config set smokeEveryUp true -s ${up} && pulumi up -s ${up}`;
    if (age > maxAgeMs) {
        return {
            record,
            differences: [
                {
                    field: "age",
                    message: `${up}'s record is ${formatAge(age)} old (checks passed ${record.passedAt}), older than promotionMaxAge ${formatAge(maxAgeMs)}: what it verified may no longer hold. ${rerun}`,
                },
            ],
        };
    }
    if (age < -MAX_CLOCK_SKEW_MS) {
        return { record, differences: [{ field: "age", message: `${up}'s record says its checks passed ${record.passedAt}, which is in the future (now ${now.toISOString()}). ${rerun}` }] };
    }
    const out: Difference[] = [];
    const mandatory = ENVIRONMENT_RULES[from.environment].enforcement === "mandatory";
    if (mandatory) {
        const ver = record.verification;
        if (ver.mode !== "http") {
            out.push({
                field: "verification",
                message:
                    `verification: ${up} was verified by a command alone (smokeCommand; checks ${JSON.stringify(record.checks)}), whose exit status says nothing about what it tested; ` +
                    `${stack} needs ${up} to have passed the project's standard HTTP checks. Fix: pulumi config rm smokeCommand -s ${up} && pulumi up -s ${up}`,
            });
        } else if (ver.checksDigest !== candidate.verification.checksDigest) {
            out.push({
                field: "verification",
                message:
                    `verification: ${up} ran other checks (${ver.checksDigest}: ${JSON.stringify(record.checks)}) than the project's standard checks ${stack} runs (${candidate.verification.checksDigest}): ` +
                    `a different, edited or shortened smokeChecksFile. Fix: give ${up} the same checks as ${stack} (the same committed smokeChecksFile, or none for the defaults) and pulumi up -s ${up}`,
            });
        }
        if (ver.passes < 1) {
            out.push({ field: "verification", message: `verification: ${up}'s checks required ${ver.passes} passing rounds; at least 1 is needed. Fix: pulumi config rm smokePasses -s ${up} && pulumi up -s ${up}` });
        }
    }
    const image = imageProblem(candidate, record, up);
    if (image !== undefined) out.push({ field: "image", message: image });
    out.push(...judged(candidate, record, up, input.rules, mandatory));
    return { record, differences: out };
}

/** Why an override does not let `differences` through, or undefined when it does. */
export function overrideProblem(override: Override, candidate: Candidate, differences: readonly Difference[], now: Date): string | undefined {
    const { stack } = candidate;
    const others = differences.filter((d) => d.field !== "image");
    if (others.length > 0) {
        return `promotionOverride lets through the image alone, and ${others.length} other difference${others.length === 1 ? " remains" : "s remain"} (${others.map((d) => d.field).join(", ")}); fix those`;
    }
    const digest = parseImage(candidate.image).digest;
    if (digest !== override.digest) {
        return `promotionOverride names ${override.digest}, but ${stack} would run ${digest ?? `the tag ${candidate.image}`}; an override lets through exactly one digest. Fix: pulumi config set --path promotionOverride.digest ${digest ?? "<the digest>"} -s ${stack}, if that digest is what was approved`;
    }
    const expires = Date.parse(override.expires);
    if (!(expires > now.getTime())) {
        return `promotionOverride expired at ${override.expires} (now ${now.toISOString()}). Fix: verify the image upstream and pulumi config rm promotionOverride -s ${stack}; or, if the emergency still holds, set a new expiry: pulumi config set --path promotionOverride.expires <ISO time within 7 days> -s ${stack}`;
    }
    if (expires - now.getTime() > MAX_OVERRIDE_MS) {
        return `promotionOverride expires ${override.expires}, more than ${formatAge(MAX_OVERRIDE_MS)} ahead (now ${now.toISOString()}). Fix: pulumi config set --path promotionOverride.expires <ISO time within 7 days> -s ${stack}`;
    }
    return undefined;
}

const OVERRIDE_HINT = (stack: string) =>
    `In an emergency only, for one image digest: pulumi config set --path promotionOverride.reason '<why, and who approved>' -s ${stack} && ` +
    `pulumi config set --path promotionOverride.digest <sha256:...> -s ${stack} && pulumi config set --path promotionOverride.expires <ISO time within 7 days> -s ${stack} ` +
    "(warned, exported and reported by the policy pack).";

/**
 * Verified when a record vouches for the candidate: the upstream's current record, one of the
 * upstream's `verifiedHistory`, or one of this stack's own (so an environment can go back to what
 * it or its upstream verified before, without an override). Otherwise refused, with what differs
 * from the upstream's current record, unless an override covers exactly the image digest; then
 * overridden, with a warning. An override with nothing to override is a note to remove it.
 */
export function decidePromotion(input: PromotionInput): PromotionDecision {
    const { candidate, upstream, upstreamEnvironment, override, now } = input;
    const { stack } = candidate;
    const up = upstream.stack;
    const remove = `pulumi config rm promotionOverride -s ${stack}`;
    const fromUp = { source: upstream.source, stack: up, environment: upstreamEnvironment };
    const primary: Judged =
        upstream.problem !== undefined
            ? {
                  differences: [
                      {
                          field: "record",
                          message: `${stack} promotes from ${up} (${upstream.source}), and ${upstream.problem}: nothing proves that what ${stack} is about to run works. Fix: pulumi up -s ${up} first; ${stack} then deploys what ${up}'s smoke checks verified`,
                      },
                  ],
              }
            : judgeRecord(input, upstream.verified, fromUp);
    const note = override === undefined ? "" : `promotionOverride is set (${JSON.stringify(override.reason)}) but ${stack} runs what was verified: nothing to override. Fix: ${remove}`;
    if (primary.differences.length === 0) return { status: "verified", differences: [], message: note, against: { origin: up, record: primary.record! } };

    // Earlier records: the upstream's history, then this stack's own.
    const earlier: { origin: string; value: unknown; from: { source: string; stack: string; environment: EnvironmentName } }[] = [];
    if (upstream.problem === undefined) {
        historyEntries(upstream.history).forEach((value, i) => earlier.push({ origin: `${up}'s verifiedHistory[${i}]`, value, from: fromUp }));
    }
    if (input.own !== undefined && input.own.problem === undefined) {
        const fromOwn = { source: input.own.source, stack, environment: candidate.environment };
        historyEntries(input.own.history).forEach((value, i) => earlier.push({ origin: `${stack}'s own verifiedHistory[${i}]`, value, from: fromOwn }));
    }
    for (const e of earlier) {
        const j = judgeRecord(input, e.value, e.from);
        if (j.differences.length === 0) return { status: "verified", differences: [], message: note, against: { origin: e.origin, record: j.record! } };
    }

    const differences = primary.differences;
    const list = differences.map((d) => `  - ${d.message}`).join("\n");
    const alsoChecked =
        (earlier.length > 0 ? `\n  (checked as well: ${earlier.length} earlier verified record${earlier.length === 1 ? "" : "s"} of ${up}'s and ${stack}'s verifiedHistory; none matches)` : "") +
        (input.own?.problem !== undefined ? `\n  (${stack}'s own verifiedHistory was not checked: ${input.own.problem})` : "");
    if (override !== undefined && primary.record !== undefined) {
        const problem = overrideProblem(override, candidate, differences, now);
        if (problem === undefined) {
            return {
                status: "overridden",
                differences,
                against: { origin: up, record: primary.record },
                message:
                    `PROMOTION OVERRIDDEN for ${stack} (${JSON.stringify(override.reason)}, digest ${override.digest}, until ${override.expires}): deploying what ${up} did not verify:\n${list}\n` +
                    `The override is in the stack output 'promotion' and the policy pack reports it. Once ${up} has verified what ${stack} runs: ${remove}`,
            };
        }
        return {
            status: "refused",
            differences,
            message:
                `${stack} refuses to deploy what ${up} has not verified (promotion from ${upstream.source}); nothing was created:\n${list}${alsoChecked}\n` +
                `The override does not apply: ${problem}.`,
        };
    }
    return {
        status: "refused",
        differences,
        message: `${stack} refuses to deploy what ${up} has not verified (promotion from ${upstream.source}); nothing was created:\n${list}${alsoChecked}\n${OVERRIDE_HINT(stack)}`,
    };
}

/** The stack output `promotion`: how this update was let through, and by whose record. */
export interface PromotionOutput {
    /** The upstream stack, or null where the environment promotes from none. */
    readonly source: string | null;
    readonly status: Exclude<PromotionStatus, "refused">;
    /** The override, or null. */
    readonly override: Override | null;
    /** What the override let through (empty otherwise). */
    readonly overridden: readonly string[];
    /** The record this update was checked against, and who produced it. */
    readonly checkedAgainst: {
        readonly origin: string;
        readonly environment: EnvironmentName;
        readonly passedAt: string;
        readonly trigger: string;
        readonly image: string;
        readonly ranDigest: string | null;
        readonly revision: string;
        readonly commit: string | null;
        readonly actor: string | null;
        readonly runUrl: string | null;
    } | null;
}

/** Where the environment promotes from no stack. */
export const NO_PROMOTION: PromotionOutput = { source: null, status: "not-applicable", override: null, overridden: [], checkedAgainst: null };

/** The output for an update the decision let through (a refused one never gets that far). */
export function promotionOutput(upstream: RecordSource, decision: PromotionDecision, override: Override | undefined): PromotionOutput {
    const a = decision.against;
    const overridden = decision.status === "overridden";
    return {
        source: upstream.source,
        status: overridden ? "overridden" : "verified",
        override: override ?? null,
        overridden: overridden ? decision.differences.map((d) => d.message) : [],
        checkedAgainst: a
            ? {
                  origin: a.origin,
                  environment: a.record.environment,
                  passedAt: a.record.passedAt,
                  trigger: a.record.trigger,
                  image: a.record.image,
                  ranDigest: a.record.ranDigest,
                  revision: a.record.revision,
                  commit: a.record.commit,
                  actor: a.record.actor,
                  runUrl: a.record.runUrl,
              }
            : null,
    };
}
