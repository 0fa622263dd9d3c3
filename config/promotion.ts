// The promotion keys, validated apart from the other key groups: `promoteFrom` (which stack's
// verified record this one must match) and `promotionOverride` (the emergency way past it).
// validateConfig calls validatePromotion and merges its problems into the one config report.
import { ENVIRONMENT_RULES, EnvironmentName } from "./environments";

export interface PromotionConfig {
    /**
     * `promoteFrom` as given: a stack of this project, or `<org>/<project>/<stack>`.
     * @default - the environment table's promotesFrom, in this organization and project
     */
    readonly from: string | undefined;
    /** `promotionOverride`: why this update may deploy what upstream did not verify. @default - none */
    readonly override: string | undefined;
}

export interface PromotionContext {
    readonly stack: string;
    readonly environment: EnvironmentName;
    /** The config namespace, for messages (`env-progression`). */
    readonly project: string;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Shortest reason accepted: enough for "INC-42 by alice", not for "yes". */
export const MIN_REASON_CHARS = 12;
const NOT_A_REASON = /^(true|false|yes|no|y|n|ok|1|0|on|off|override|force|skip)$/i;

/** Problems with the promotion keys (each with its fix) and their typed values. */
export function validatePromotion(
    raw: { readonly values: Readonly<Record<string, unknown>>; readonly secretKeys: ReadonlySet<string> },
    ctx: PromotionContext,
): { promotion: PromotionConfig; problems: string[] } {
    const problems: string[] = [];
    const { stack, environment, project } = ctx;
    const text = (key: string): string | undefined => {
        const v = raw.values[key];
        if (v === undefined || v === "") return undefined;
        if (raw.secretKeys.has(key)) {
            problems.push(
                `${project}:${key} is stored as a secret, but it is shown in outputs and reports on purpose. Fix: pulumi config set ${key} <value> -s ${stack} (without --secret)`,
            );
            return undefined;
        }
        if (typeof v !== "string") {
            problems.push(`${project}:${key}: ${JSON.stringify(v)} is not a string. Fix: pulumi config set ${key} '<value>' -s ${stack}`);
            return undefined;
        }
        return v.trim();
    };

    const from = text("promoteFrom");
    if (from !== undefined) {
        const parts = from.split("/");
        const allowed = `a stack of this project (staging) or <org>/<project>/<stack> (organization/${project}/staging on a file:// backend, acme/${project}/staging on Pulumi Cloud)`;
        if ((parts.length !== 1 && parts.length !== 3) || !parts.every((p) => SEGMENT.test(p))) {
            problems.push(
                `${project}:promoteFrom: ${JSON.stringify(from)} is not a stack name. Allowed: ${allowed}. Fix: pulumi config set promoteFrom organization/${project}/staging -s ${stack}`,
            );
        } else if (parts[parts.length - 1] === stack && (parts.length === 1 || parts[1] === project)) {
            problems.push(
                `${project}:promoteFrom: ${JSON.stringify(from)} is this stack itself; a stack cannot verify its own promotion. Allowed: ${allowed}. Fix: pulumi config rm promoteFrom -s ${stack}`,
            );
        }
    }
    const promotes = from !== undefined || ENVIRONMENT_RULES[environment].promotesFrom !== undefined;

    const override = text("promotionOverride");
    if (override !== undefined) {
        const example = `pulumi config set promotionOverride 'INC-4711: hotfix for the checkout outage, approved by alice' -s ${stack}`;
        if (!promotes) {
            problems.push(
                `${project}:promotionOverride is set, but ${environment} promotes from no stack, so there is nothing to override. Fix: pulumi config rm promotionOverride -s ${stack}`,
            );
        } else if (override.length < MIN_REASON_CHARS || NOT_A_REASON.test(override)) {
            problems.push(
                `${project}:promotionOverride: ${JSON.stringify(override)} is not a reason. An override deploys what upstream did not verify, so it must say why and who approved it. ` +
                    `Allowed: a sentence of at least ${MIN_REASON_CHARS} characters. Fix: ${example}`,
            );
        }
    }
    return { promotion: { from, override }, problems };
}

export interface PromotionSource {
    /** The fully qualified name a StackReference takes: `<org>/<project>/<stack>`. */
    readonly name: string;
    /** The name `pulumi up -s` takes from this project: the bare stack name when it is in the same organization and project. */
    readonly stack: string;
}

/**
 * The stack this one promotes from, or undefined for the first environment. File backends name
 * every stack `organization/<project>/<stack>`; Pulumi Cloud uses the real organization.
 */
export function promotionSource(
    config: { readonly environment: EnvironmentName; readonly promotion: PromotionConfig },
    organization: string,
    project: string,
): PromotionSource | undefined {
    const from = config.promotion.from;
    if (from !== undefined) {
        const parts = from.split("/");
        if (parts.length === 1) return { name: `${organization}/${project}/${from}`, stack: from };
        return { name: from, stack: parts[0] === organization && parts[1] === project ? parts[2]! : from };
    }
    const upstream = ENVIRONMENT_RULES[config.environment].promotesFrom;
    return upstream === undefined ? undefined : { name: `${organization}/${project}/${upstream}`, stack: upstream };
}
