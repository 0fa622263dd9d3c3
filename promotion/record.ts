// The verified record: what a stack's smoke checks last verified, exported as the stack output
// `verified` for the next environment to read. Built only from the SmokeTest's outputs, which
// change only when the checks pass, so an `up` whose checks failed never changes it.
import { type EnvironmentName, isEnvironmentName } from "../config/environments";
import { parseImage } from "../config/schema";

export const RECORD_FORMAT = 1;

/** What the checks verify, handed to the SmokeTest before they run and echoed back once they pass. */
export interface VerifiedSubject {
    readonly environment: EnvironmentName;
    /** The image reference as deployed. */
    readonly image: string;
    /** `manifestDigest(environmentManifests(config))`: every object rendered for the environment. */
    readonly manifestDigest: string;
    readonly featureFlags: Readonly<Record<string, boolean>>;
    /** The schema version the app ran against. Reserved for a migration gate: absent until one sets it. */
    readonly migrationVersion?: string;
    /** The commit of the program that ran the checks, when known (`<sha>`, or `<sha>-dirty` with uncommitted changes). */
    readonly commit: string | null;
}

/** The stack output `verified`. */
export interface VerifiedRecord extends VerifiedSubject {
    /** Format of this record; readers refuse one they do not know. */
    readonly format: typeof RECORD_FORMAT;
    /** The image's digest (`sha256:...`), or null when the reference carries none. */
    readonly imageDigest: string | null;
    /** The checks that passed: their names, or `command: <text>` in command mode. */
    readonly checks: readonly string[];
    /** When they passed (ISO 8601). */
    readonly passedAt: string;
    /** The smoke trigger they verified. */
    readonly trigger: string;
}

export interface SmokeOutcome {
    readonly subject: VerifiedSubject;
    readonly passedAt: string;
    readonly trigger: string;
    /** The checks that passed: their names, or `command: <text>` in command mode. */
    readonly checks: readonly string[];
}

export function verifiedRecord(outcome: SmokeOutcome): VerifiedRecord {
    const { subject } = outcome;
    return {
        format: RECORD_FORMAT,
        environment: subject.environment,
        image: subject.image,
        imageDigest: parseImage(subject.image).digest ?? null,
        manifestDigest: subject.manifestDigest,
        featureFlags: { ...subject.featureFlags },
        ...(subject.migrationVersion !== undefined ? { migrationVersion: subject.migrationVersion } : {}),
        checks: [...outcome.checks],
        passedAt: outcome.passedAt,
        trigger: outcome.trigger,
        commit: subject.commit,
    };
}

/** A record read from another stack, or why it cannot be used. */
export type ParsedRecord = { readonly record: VerifiedRecord; readonly problem?: undefined } | { readonly record?: undefined; readonly problem: string };

/**
 * Checks a value read from another stack's `verified` output. Anything else than a record this
 * code wrote (an older format, a hand-edited output) is a problem, never a pass.
 */
export function parseVerifiedRecord(value: unknown): ParsedRecord {
    if (value === undefined || value === null) return { problem: "it has no verified record" };
    if (typeof value !== "object" || Array.isArray(value)) return { problem: `its verified output is not a record (${typeof value})` };
    const v = value as Record<string, unknown>;
    if (v["format"] !== RECORD_FORMAT) {
        return { problem: `its verified record has format ${JSON.stringify(v["format"])}, and this program reads format ${RECORD_FORMAT}` };
    }
    const missing: string[] = [];
    const str = (k: string): string => {
        const x = v[k];
        if (typeof x === "string" && x !== "") return x;
        missing.push(k);
        return "";
    };
    const environment = str("environment");
    const image = str("image");
    const manifestDigest = str("manifestDigest");
    const passedAt = str("passedAt");
    const trigger = str("trigger");
    const flags = v["featureFlags"];
    if (typeof flags !== "object" || flags === null || Array.isArray(flags) || !Object.values(flags).every((f) => typeof f === "boolean")) {
        missing.push("featureFlags");
    }
    const checks = v["checks"];
    if (!Array.isArray(checks) || !checks.every((c) => typeof c === "string")) missing.push("checks");
    if (v["migrationVersion"] !== undefined && typeof v["migrationVersion"] !== "string") missing.push("migrationVersion");
    if (environment !== "" && !isEnvironmentName(environment)) missing.push("environment");
    if (missing.length > 0) return { problem: `its verified record is malformed (${missing.join(", ")})` };
    const commit = typeof v["commit"] === "string" ? v["commit"] : null;
    return {
        record: verifiedRecord({
            subject: {
                environment: environment as EnvironmentName,
                image,
                manifestDigest,
                featureFlags: flags as Record<string, boolean>,
                ...(typeof v["migrationVersion"] === "string" ? { migrationVersion: v["migrationVersion"] } : {}),
                commit,
            },
            passedAt,
            trigger,
            checks: checks as string[],
        }),
    };
}
