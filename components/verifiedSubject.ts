// What an environment's smoke checks verify, in the terms promotion compares: everything that
// decides what runs (image, rendered manifests, flags, env, migrations) and how it is verified
// (the checks' definition). Pure: the same function gives the subject a stack's checks verify
// and the candidate the next stack compares with it, so the two cannot drift apart.
import { createHash } from "node:crypto";
import { PROJECT } from "../config/reader";
import type { EnvironmentConfig } from "../config/schema";
import { defaultChecks } from "../smoke/checks";
import { isSensitiveHeader, REDACTED } from "../smoke/redact";
import type { Check } from "../smoke/types";
import { canonicalJson, manifestDigest } from "../promotion/digest";
import type { Provenance, Verification, VerifiedSubject } from "../promotion/record";
import { environmentManifests } from "./manifests";

const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/**
 * The checks' definition as compared across environments: the validated checks with every
 * credential header's value replaced by a marker. Each environment holds its own secrets, so the
 * same committed checks file resolves to different header values per stack; the file itself,
 * which names the secret, is what must be the same.
 */
export function checksDefinition(checks: readonly Check[]): unknown {
    return checks.map((c) =>
        c.headers === undefined ? c : { ...c, headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, isSensitiveHeader(k) ? REDACTED : v])) },
    );
}

/** How `config` has its app verified: HTTP checks (the given ones, else the engine's defaults) or the smoke command. */
export function verificationOf(config: EnvironmentConfig, checks?: readonly Check[]): Verification {
    const command = config.smoke.command;
    if (command !== undefined) return { mode: "command", checksDigest: sha256(command), passes: 1 };
    return { mode: "http", checksDigest: sha256(canonicalJson(checksDefinition(checks ?? defaultChecks))), passes: config.smoke.passes };
}

/** Nothing known about who ran what: for candidates, which are compared, never recorded. */
export const NO_PROVENANCE: Provenance = { commit: null, actor: null, runUrl: null };

/** What the smoke checks of this environment verify: everything rendered for it, by digest, and what promotion compares. */
export function verifiedSubject(
    config: EnvironmentConfig,
    provenance: Provenance,
    checks?: readonly Check[],
    /** The digest of the render as applied (under the stack's secret checksum). @default - the render with a placeholder checksum */
    digest: string = manifestDigest(environmentManifests(config)),
): VerifiedSubject {
    const migration = config.migration;
    const jobCommand = migration?.job?.command;
    return {
        environment: config.environment,
        project: PROJECT,
        image: config.app.image,
        manifestDigest: digest,
        featureFlags: { ...config.app.featureFlags },
        env: { ...config.app.env },
        ...(migration?.sources ? { migrationVersion: migration.sources.version } : {}),
        migrationImage: migration?.job?.image ?? null,
        migrationCommand: migration?.command ?? null,
        migrationJobCommand: jobCommand !== undefined ? canonicalJson(jobCommand) : null,
        verification: verificationOf(config, checks),
        commit: provenance.commit,
        actor: provenance.actor,
        runUrl: provenance.runUrl,
    };
}
