// The verified record: what a stack's smoke checks last verified, exported as the stack output
// `verified` for the next environment to read, and signed so that nobody who can only write
// state (a `pulumi stack import`, a hand-edited checkpoint) can make one up. Built only from the
// SmokeTest's outputs, which change only when the checks pass, so an `up` whose checks failed
// never changes it.
import { createHmac, timingSafeEqual } from "node:crypto";
import { type EnvironmentName, isEnvironmentName } from "../config/environments";
import { parseImage } from "../config/schema";
import { canonicalJson } from "./digest";

export const RECORD_FORMAT = 2;

/** How the checks were run: the downstream judges whether that is strong enough for it. */
export interface Verification {
    /** `http`: the engine's declarative checks; `command`: a shell command whose exit status alone decided. */
    readonly mode: "http" | "command";
    /** sha256 (`sha256:<hex>`) of the checks' definition: the canonical checks JSON (credential headers redacted), or the command text. */
    readonly checksDigest: string;
    /** Consecutive passing rounds required (1 for a command, which runs once). */
    readonly passes: number;
}

/** Who and what produced a record: the program's commit, who ran it and where. */
export interface Provenance {
    /** The promoted commit (`<sha>`, or `<sha>-dirty` with uncommitted changes), or null when unknown. */
    readonly commit: string | null;
    /** Who ran the update (GITHUB_ACTOR, or the local user), or null when unknown. */
    readonly actor: string | null;
    /** The CI run's URL, or null outside CI. */
    readonly runUrl: string | null;
}

/** What the checks verify, handed to the SmokeTest before they run and echoed back once they pass. */
export interface VerifiedSubject extends Provenance {
    readonly environment: EnvironmentName;
    /** The Pulumi project the record belongs to: a record of another project is another app's. */
    readonly project: string;
    /** The image reference as deployed. */
    readonly image: string;
    /** `manifestDigest(environmentManifests(config))`: every object rendered for the environment. */
    readonly manifestDigest: string;
    readonly featureFlags: Readonly<Record<string, boolean>>;
    /** The app's non-secret environment variables (`env`). */
    readonly env: Readonly<Record<string, string>>;
    /** The schema version the app ran against; absent without a migration gate. */
    readonly migrationVersion?: string;
    /** `migrationImage`, or null. */
    readonly migrationImage: string | null;
    /** `migrationCommand`, or null. */
    readonly migrationCommand: string | null;
    /** `migrationJobCommand` as canonical JSON, or null (the image's entrypoint). */
    readonly migrationJobCommand: string | null;
    readonly verification: Verification;
}

/** The stack output `verified`, before it is signed. */
export interface VerifiedRecord extends VerifiedSubject {
    /** Format of this record; readers refuse one they do not know. */
    readonly format: typeof RECORD_FORMAT;
    /** The digest the image reference names (`sha256:...`), or null for a tag. */
    readonly imageDigest: string | null;
    /** The digest the verified revision's ready pods ran (their status imageID), or null when unknown. */
    readonly ranDigest: string | null;
    /** The checks that passed: their names, or `command: <text>` in command mode. */
    readonly checks: readonly string[];
    /** When they passed (ISO 8601). */
    readonly passedAt: string;
    /** The smoke trigger they verified. */
    readonly trigger: string;
    /** The revision that went live once they passed. */
    readonly revision: string;
}

/** The stack output `verified`: the record and its HMAC-SHA256 under the project's promotionKey. */
export interface SignedVerifiedRecord extends VerifiedRecord {
    /** `hmac-sha256:<hex>` over the canonical JSON of every other field. */
    readonly signature: string;
}

/** What verified a revision, as the program has it once the checks passed and it went live. */
export interface VerifiedOutcome {
    /** As the SmokeTest echoed it back once checks passed. */
    readonly subject: VerifiedSubject;
    /** ISO 8601. */
    readonly passedAt: string;
    readonly trigger: string;
    /** Names of checks that passed, or `["command: ..."]`. */
    readonly checks: readonly string[];
    /** From the live switch: the pods' imageID digest. */
    readonly ranDigest: string | null;
    /** The revision id that went live. */
    readonly revision: string;
}

/**
 * The record of an outcome. A subject from before a field existed (a SmokeTest whose last passing
 * run is older than this program) yields a record without it, which readers refuse as malformed
 * until the checks run again; it never fails the update that builds it.
 */
export function verifiedRecord(o: VerifiedOutcome): VerifiedRecord {
    const s = o.subject as Partial<VerifiedSubject> & Pick<VerifiedSubject, "environment" | "image" | "manifestDigest" | "featureFlags">;
    const v: Partial<Verification> = s.verification ?? {};
    return {
        format: RECORD_FORMAT,
        environment: s.environment,
        project: s.project ?? "",
        image: s.image,
        imageDigest: parseImage(s.image).digest ?? null,
        ranDigest: o.ranDigest,
        manifestDigest: s.manifestDigest,
        featureFlags: { ...s.featureFlags },
        env: { ...(s.env ?? {}) },
        ...(s.migrationVersion !== undefined ? { migrationVersion: s.migrationVersion } : {}),
        migrationImage: s.migrationImage ?? null,
        migrationCommand: s.migrationCommand ?? null,
        migrationJobCommand: s.migrationJobCommand ?? null,
        verification: { mode: v.mode ?? "http", checksDigest: v.checksDigest ?? "", passes: v.passes ?? 0 },
        checks: [...o.checks],
        passedAt: o.passedAt,
        trigger: o.trigger,
        revision: o.revision,
        commit: s.commit ?? null,
        actor: s.actor ?? null,
        runUrl: s.runUrl ?? null,
    };
}

/** The secret config key holding the project-wide key that signs records: every stack holds the same one. */
export const PROMOTION_KEY = "promotionKey";

const SIGNATURE_PREFIX = "hmac-sha256:";
/** Shortest promotionKey accepted: 32 characters, as `openssl rand -base64 32` gives 44. */
export const MIN_KEY_CHARS = 32;

function hmac(key: string, value: unknown): string {
    return createHmac("sha256", key).update(canonicalJson(value)).digest("hex");
}

/** The record with its signature: HMAC-SHA256 under `key` over the canonical JSON of the record. */
export function signRecord(r: VerifiedRecord, key: string): SignedVerifiedRecord {
    if (key.length < MIN_KEY_CHARS) throw new Error(`signRecord: the promotionKey must be at least ${MIN_KEY_CHARS} characters of random data`);
    const { signature: _drop, ...unsigned } = r as VerifiedRecord & { signature?: unknown };
    return { ...unsigned, signature: SIGNATURE_PREFIX + hmac(key, unsigned) };
}

/**
 * Whether `value` carries a signature under `key` over exactly its other fields. The comparison
 * takes the same time wherever the first wrong byte is, so timing tells nothing about the key.
 */
export function signatureProblem(value: Readonly<Record<string, unknown>>, key: string): "unsigned" | "bad" | undefined {
    const given = value["signature"];
    if (typeof given !== "string" || given === "") return "unsigned";
    const { signature: _drop, ...unsigned } = value;
    const expected = Buffer.from(SIGNATURE_PREFIX + hmac(key, unsigned), "utf8");
    const actual = Buffer.from(given, "utf8");
    if (actual.length !== expected.length) return "bad";
    return timingSafeEqual(actual, expected) ? undefined : "bad";
}

/** A record read from a stack, or why it cannot be used. */
export type ParsedRecord = { readonly record: SignedVerifiedRecord; readonly problem?: undefined } | { readonly record?: undefined; readonly problem: string };

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const stringMap = (v: unknown, of: "string" | "boolean") => isObject(v) && Object.values(v).every((x) => typeof x === of);

/**
 * Checks a value read from a stack's `verified` output (or one entry of `verifiedHistory`). The
 * signature is checked first, before any field is looked at: a record this program did not sign
 * under the project's key is a problem, never a pass, however plausible its fields.
 */
export function parseVerifiedRecord(value: unknown, key: string): ParsedRecord {
    if (value === undefined || value === null) return { problem: "it has no verified record" };
    if (!isObject(value)) return { problem: `its verified output is not a record (${Array.isArray(value) ? "array" : typeof value})` };
    const sig = signatureProblem(value, key);
    if (sig === "unsigned") return { problem: "its verified record is not signed (it was written by an older version of this program, or by hand)" };
    if (sig === "bad") {
        return {
            problem:
                "its verified record's signature does not match its content under this stack's promotionKey (the record was edited after it was signed, e.g. in exported state, or it was signed with another key)",
        };
    }
    const v = value;
    if (v["format"] !== RECORD_FORMAT) {
        return { problem: `its verified record has format ${JSON.stringify(v["format"])}, and this program reads format ${RECORD_FORMAT}` };
    }
    const bad: string[] = [];
    const need = (k: string, ok: boolean) => {
        if (!ok) bad.push(k);
    };
    const str = (k: string) => typeof v[k] === "string" && v[k] !== "";
    const strOrNull = (k: string) => v[k] === null || str(k);
    for (const k of ["project", "image", "manifestDigest", "passedAt", "trigger", "revision"]) need(k, str(k));
    need("environment", isEnvironmentName(v["environment"]));
    need("featureFlags", stringMap(v["featureFlags"], "boolean"));
    need("env", stringMap(v["env"], "string"));
    need("checks", Array.isArray(v["checks"]) && v["checks"].every((c) => typeof c === "string"));
    need("migrationVersion", v["migrationVersion"] === undefined || str("migrationVersion"));
    for (const k of ["migrationImage", "migrationCommand", "migrationJobCommand", "commit", "actor", "runUrl"]) need(k, strOrNull(k));
    need("imageDigest", v["imageDigest"] === null || (typeof v["imageDigest"] === "string" && DIGEST.test(v["imageDigest"])));
    need("ranDigest", v["ranDigest"] === null || (typeof v["ranDigest"] === "string" && DIGEST.test(v["ranDigest"])));
    need("passedAt", typeof v["passedAt"] === "string" && !Number.isNaN(Date.parse(v["passedAt"])));
    const ver = v["verification"];
    need(
        "verification",
        isObject(ver) &&
            (ver["mode"] === "http" || ver["mode"] === "command") &&
            typeof ver["checksDigest"] === "string" &&
            DIGEST.test(ver["checksDigest"]) &&
            typeof ver["passes"] === "number" &&
            Number.isInteger(ver["passes"]),
    );
    if (bad.length > 0) return { problem: `its verified record is malformed (${[...new Set(bad)].join(", ")})` };
    return { record: value as unknown as SignedVerifiedRecord };
}

/** `verifiedHistory`'s entries as given: a list, or nothing usable. */
export function historyEntries(value: unknown): readonly unknown[] {
    return Array.isArray(value) ? value : [];
}

export const isDigest = (s: string): boolean => DIGEST.test(s);
export type { EnvironmentName };
