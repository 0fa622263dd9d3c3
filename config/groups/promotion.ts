// Promotion: `promoteFrom` (which stack's verified record this one must match),
// `promotionOverride` (the emergency way past it, for one image digest until a time),
// `promotionMaxAge` (how old a record may be), and where the upstream stack is. The signing key,
// `promotionKey`, is a secret: config/load.ts reads it.
import { ENVIRONMENT_RULES, type EnvironmentName } from "../environments";
import { type ConfigReader, PROJECT, show } from "../reader";
import type { Identity } from "./identity";

/** `promotionOverride`: one image digest let through until `expires`, and why. */
export interface PromotionOverride {
    readonly reason: string;
    /** `sha256:<64 hex>`. */
    readonly digest: string;
    /** ISO 8601 with a time zone. */
    readonly expires: string;
}

export interface PromotionConfig {
    /**
     * `promoteFrom` as given: a stack of this project, or `<org>/<project>/<stack>`.
     * @default - the environment table's promotesFrom, in this organization and project
     */
    readonly from: string | undefined;
    /** `promotionOverride`. @default - none */
    readonly override: PromotionOverride | undefined;
    /** `promotionMaxAge`: an upstream record older than this is refused. @default 30d */
    readonly maxAgeMs: number;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Shortest reason accepted: enough for "INC-42 by alice", not for "yes". */
export const MIN_REASON_CHARS = 12;
const NOT_A_REASON = /^(true|false|yes|no|y|n|ok|1|0|on|off|override|force|skip)$/i;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
// A full date, a time and a zone: a time without a zone means something else on every machine.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

// How the engine hands over a YAML timestamp written unquoted in a stack file (Go's time format).
const GO_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ([+-])(\d{2})(\d{2})(?: [A-Z]{1,5})?$/;

/**
 * An instant as ISO 8601, or undefined when `text` is none. An unquoted `expires:
 * 2026-12-09T18:00:00Z` in a stack file is a YAML timestamp, which the engine passes to the
 * program as `2026-12-09 18:00:00 +0000 UTC`: that is the same instant, given back as ISO 8601.
 */
export function instantOf(text: string): string | undefined {
    const t = text.trim();
    if (ISO_INSTANT.test(t)) return Number.isNaN(Date.parse(t)) ? undefined : t;
    const m = GO_TIME.exec(t);
    if (!m) return undefined;
    const ms = Date.parse(`${m[1]}T${m[2]}${m[3]}${m[4]}:${m[5]}`);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * The default promotionMaxAge. A record vouches for an image against the world as it was when
 * the checks ran: dependencies, data, certificates and the cluster move on, so an old record
 * proves less every week. 30 days lets a release verified in staging wait out a release cycle
 * or a holiday freeze, and keeps the last month's verified revisions available for a rollback
 * without an override; past that, staging runs its checks again (one `up`).
 */
export const DEFAULT_MAX_AGE = "30d";
const MIN_MAX_AGE_MS = 3600_000;
const MAX_MAX_AGE_MS = 90 * 24 * 3600_000;
const AGE = /^(\d+)(d|h|m)$/;

/** `30d`, `12h`, `90m` in milliseconds; undefined when malformed. */
export function parseAgeMs(text: string): number | undefined {
    const m = AGE.exec(text.trim());
    if (!m) return undefined;
    return Number(m[1]) * (m[2] === "d" ? 24 * 3600_000 : m[2] === "h" ? 3600_000 : 60_000);
}

const EXAMPLE_REASON = "INC-4711: hotfix for the checkout outage, approved by alice";

/** Keys: promoteFrom, promotionOverride, promotionMaxAge; and smokeCommand where enforcement is mandatory. A group validator (see config/schema.ts). */
export function validatePromotion(read: ConfigReader, id: Identity): PromotionConfig {
    const { stack, environment } = id;
    const from = read.string("promoteFrom")?.trim();
    const upstream = ENVIRONMENT_RULES[environment].promotesFrom;
    if (from !== undefined && from !== "") {
        const parts = from.split("/");
        const allowed = `a stack of this project (staging) or <org>/${PROJECT}/<stack> (organization/${PROJECT}/staging on a file:// backend, acme/${PROJECT}/staging on Pulumi Cloud)`;
        if ((parts.length !== 1 && parts.length !== 3) || !parts.every((p) => SEGMENT.test(p))) {
            read.problem(`${PROJECT}:promoteFrom: ${JSON.stringify(from)} is not a stack name. Allowed: ${allowed}. Fix: ${read.fix("promoteFrom", `organization/${PROJECT}/staging`)}`);
        } else if (upstream === undefined) {
            read.problem(
                `${PROJECT}:promoteFrom: ${JSON.stringify(from)} is set, but ${environment} is the first environment and promotes from no stack. Fix: pulumi config rm promoteFrom -s ${stack}`,
            );
        } else if (parts.length === 3 && parts[1] !== PROJECT) {
            read.problem(
                `${PROJECT}:promoteFrom: ${JSON.stringify(from)} is a stack of project ${parts[1]}; its records vouch for another app. ` +
                    `Allowed: ${upstream}'s stack of ${PROJECT}. Fix: pulumi config rm promoteFrom -s ${stack}`,
            );
        } else if (parts[parts.length - 1] === stack && (parts.length === 1 || parts[1] === PROJECT)) {
            read.problem(
                `${PROJECT}:promoteFrom: ${JSON.stringify(from)} is this stack itself; a stack cannot verify its own promotion. Allowed: ${allowed}. Fix: pulumi config rm promoteFrom -s ${stack}`,
            );
        }
    }
    const promotes = upstream !== undefined;

    const override = readOverride(read, id, promotes);

    const ageText = read.string("promotionMaxAge", DEFAULT_MAX_AGE).trim();
    let maxAgeMs = parseAgeMs(DEFAULT_MAX_AGE)!;
    const age = parseAgeMs(ageText);
    if (age === undefined || age < MIN_MAX_AGE_MS || age > MAX_MAX_AGE_MS) {
        read.problem(
            `${PROJECT}:promotionMaxAge: ${show(ageText)} is not allowed. Allowed: a duration from 1h to 90d, as <n>d, <n>h or <n>m (an upstream record older than this is refused). ` +
                `Fix: ${read.fix("promotionMaxAge", DEFAULT_MAX_AGE)}, or pulumi config rm promotionMaxAge -s ${stack} for the default ${DEFAULT_MAX_AGE}`,
        );
    } else {
        maxAgeMs = age;
    }

    // The HTTP checks are what the next environment, and this one's own rollbacks, rely on; a
    // command's exit status says nothing about what it tested, so its record could promote
    // nothing where enforcement is mandatory.
    const command = read.string("smokeCommand");
    if (command !== undefined && ENVIRONMENT_RULES[environment].enforcement === "mandatory") {
        read.problem(
            `${PROJECT}:smokeCommand: ${show(command)} replaces the HTTP smoke checks, and ${environment} is verified by the project's standard HTTP checks only: ` +
                `its record is what the next environment deploys (and what ${environment} itself may roll back to), and a command's exit status says nothing about what it tested. ` +
                `Allowed: smokeCommand in dev only; in ${environment} the default checks or a committed smokeChecksFile. Fix: pulumi config rm smokeCommand -s ${stack}`,
        );
    }
    return { from: from || undefined, override, maxAgeMs };
}

function readOverride(read: ConfigReader, id: Identity, promotes: boolean): PromotionOverride | undefined {
    const { stack, environment } = id;
    if (!read.has("promotionOverride")) return undefined;
    const raw = read.value("promotionOverride");
    let v: unknown = raw;
    if (typeof raw === "string") {
        try {
            v = JSON.parse(raw);
        } catch {
            v = raw;
        }
    }
    const set = (k: string, example: string) => `pulumi config set --path 'promotionOverride.${k}' ${example} -s ${stack}`;
    const fixAll =
        `${set("reason", `'${EXAMPLE_REASON}'`)} && ${set("digest", "sha256:<the digest to let through>")} && ` +
        `${set("expires", "<ISO 8601 time within 7 days, e.g. 2026-12-09T18:00:00Z>")}`;
    if (!promotes) {
        read.problem(
            `${PROJECT}:promotionOverride is set, but ${environment} promotes from no stack, so there is nothing to override. Fix: pulumi config rm promotionOverride -s ${stack}`,
        );
        return undefined;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
        read.problem(
            `${PROJECT}:promotionOverride: ${show(raw)} is not an override. An override lets through one image digest until it expires, and says why. ` +
                `Allowed: a map {reason, digest, expires}. Fix: pulumi config rm promotionOverride -s ${stack} && ${fixAll}`,
        );
        return undefined;
    }
    const o = v as Record<string, unknown>;
    const before = read.problems.length;
    for (const k of Object.keys(o)) {
        if (!["reason", "digest", "expires"].includes(k)) read.problem(`${PROJECT}:promotionOverride.${k}: not a field of an override. Allowed: reason, digest, expires. Fix: pulumi config rm --path 'promotionOverride.${k}' -s ${stack}`);
    }
    const reason = typeof o["reason"] === "string" ? o["reason"].trim() : undefined;
    if (reason === undefined || reason.length < MIN_REASON_CHARS || NOT_A_REASON.test(reason)) {
        read.problem(
            `${PROJECT}:promotionOverride.reason: ${show(o["reason"] ?? "(missing)")} is not a reason. An override deploys what upstream did not verify, so it must say why and who approved it. ` +
                `Allowed: a sentence of at least ${MIN_REASON_CHARS} characters. Fix: ${set("reason", `'${EXAMPLE_REASON}'`)}`,
        );
    }
    const digest = typeof o["digest"] === "string" ? o["digest"].trim() : undefined;
    if (digest === undefined || !DIGEST.test(digest)) {
        read.problem(
            `${PROJECT}:promotionOverride.digest: ${show(o["digest"] ?? "(missing)")} is not an image digest. Allowed: sha256:<64 lowercase hex>, the one digest the override lets through. ` +
                `Fix: ${set("digest", "sha256:<the digest of the image to deploy>")}`,
        );
    }
    const expires = typeof o["expires"] === "string" ? instantOf(o["expires"]) : undefined;
    if (expires === undefined) {
        read.problem(
            `${PROJECT}:promotionOverride.expires: ${show(o["expires"] ?? "(missing)")} is not a time. Allowed: ISO 8601 with a zone, at most 7 days ahead (e.g. 2026-12-09T18:00:00Z). ` +
                `Fix: ${set("expires", "<ISO 8601 time within 7 days>")}`,
        );
    }
    if (read.problems.length > before) return undefined;
    return { reason: reason!, digest: digest!, expires: expires! };
}

export interface PromotionSource {
    /** The fully qualified name a StackReference takes: `<org>/<project>/<stack>`. */
    readonly name: string;
    /** The name `pulumi up -s` takes from this project: the bare stack name when it is in the same organization and project. */
    readonly stack: string;
    /** The environment whose record it must hold: the environment table's upstream. */
    readonly environment: EnvironmentName;
}

/**
 * The stack this one promotes from, or undefined for the first environment. File backends name
 * every stack `organization/<project>/<stack>`; Pulumi Cloud uses the real organization.
 */
export function promotionSource(
    config: { readonly environment: EnvironmentName; readonly promotion: Pick<PromotionConfig, "from"> },
    organization: string,
    project: string,
): PromotionSource | undefined {
    const upstream = ENVIRONMENT_RULES[config.environment].promotesFrom;
    if (upstream === undefined) return undefined;
    const from = config.promotion.from;
    if (from !== undefined) {
        const parts = from.split("/");
        if (parts.length === 1) return { name: `${organization}/${project}/${from}`, stack: from, environment: upstream };
        return { name: from, stack: parts[0] === organization && parts[1] === project ? parts[2]! : from, environment: upstream };
    }
    return { name: `${organization}/${project}/${upstream}`, stack: upstream, environment: upstream };
}

/** The fully qualified name of this stack itself, for reading its own last outputs. */
export function ownStackName(stack: string, organization: string, project: string): string {
    return `${organization}/${project}/${stack}`;
}
