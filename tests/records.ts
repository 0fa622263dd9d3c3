// Signed verified records for tests: what a stack would export once its checks passed, signed
// with the test's promotionKey, so a test can seed an upstream without deploying it. Plain data;
// the unit and end-to-end suites share it.
import type { EnvironmentName } from "../config/environments";
import { type EnvironmentConfig, parseImage, validateConfig } from "../config/schema";
import { readStackRaw } from "../config/stackFile";
import { type SignedVerifiedRecord, signRecord, type VerifiedRecord, verifiedRecord } from "../promotion/record";
import { verifiedSubject } from "../components/verifiedSubject";
import type { Check } from "../smoke/types";

/** A promotionKey for tests (44 characters, as `openssl rand -base64 32` gives). */
export const TEST_KEY = "dGVzdC1wcm9tb3Rpb24ta2V5LW5vdC1mb3ItcmVhbCE=";
/** Another key: what a record signed elsewhere, or before a rotation, was signed with. */
export const OTHER_KEY = "b3RoZXIta2V5LW5vdC10aGUtcHJvamVjdHMta2V5ISE=";

export const SEEDED_PROVENANCE = { commit: "c".repeat(40), actor: "seed", runUrl: null } as const;

/**
 * The signed record `config`'s stack would export once its default checks passed: its pods ran
 * the digest its image names (null for a tag, unless `changes.ranDigest` says), just now unless
 * `changes.passedAt` says otherwise. `changes` replace fields before signing.
 */
export function seededRecord(config: EnvironmentConfig, key: string, changes: Partial<VerifiedRecord> = {}, checks?: readonly Check[]): SignedVerifiedRecord {
    const subject = verifiedSubject(config, SEEDED_PROVENANCE, checks);
    const record = verifiedRecord({
        subject,
        passedAt: new Date().toISOString(),
        trigger: `${config.environment}-trigger`,
        checks: ["healthz", "version", "db-status", "test-action"],
        ranDigest: parseImage(config.app.image).digest ?? null,
        revision: `${config.environment}-revision`,
    });
    const changed = { ...record, ...changes };
    // The image's own digest follows the image, as verifiedRecord derives it.
    const imageDigest = changes.image !== undefined && changes.imageDigest === undefined ? (parseImage(changes.image).digest ?? null) : changed.imageDigest;
    return signRecord({ ...changed, imageDigest }, key);
}

/**
 * A committed stack's typed config with `overrides` (keys without the namespace) over it, as the
 * program would validate it; secrets count as set. `projectDir` resolves migrationsDir.
 */
export function stackConfigWith(stack: EnvironmentName, overrides: Readonly<Record<string, unknown>> = {}, projectDir?: string): EnvironmentConfig {
    const raw = readStackRaw(stack);
    const values: Record<string, unknown> = { ...raw.values };
    for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete values[k];
        else values[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    const secretKeys = new Set(raw.secretKeys);
    for (const name of ["DATABASE_URL", "API_TOKEN"]) {
        values[name] ??= "<secret>";
        secretKeys.add(name);
    }
    return validateConfig({ ...raw, values, secretKeys, ...(projectDir ? { projectDir } : {}) }, stack);
}

/**
 * The record `upstream` would export had it verified exactly what `candidate` runs (its image,
 * flags, env, migrations and checks), signed with `key`: for tests about something else than
 * promotion, whose downstream previews must pass the promotion check.
 */
export function upstreamRecordFor(candidate: EnvironmentConfig, upstream: EnvironmentName, key: string, changes: Partial<VerifiedRecord> = {}, checks?: readonly Check[]): SignedVerifiedRecord {
    return seededRecord({ ...candidate, environment: upstream }, key, changes, checks);
}
