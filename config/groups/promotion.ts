// Promotion: `promoteFrom` (which stack's verified record this one must match) and
// `promotionOverride` (the emergency way past it), and where the upstream stack is.
import { ENVIRONMENT_RULES, type EnvironmentName } from "../environments";
import { type ConfigReader, PROJECT } from "../reader";
import type { Identity } from "./identity";

export interface PromotionConfig {
    /**
     * `promoteFrom` as given: a stack of this project, or `<org>/<project>/<stack>`.
     * @default - the environment table's promotesFrom, in this organization and project
     */
    readonly from: string | undefined;
    /** `promotionOverride`: why this update may deploy what upstream did not verify. @default - none */
    readonly override: string | undefined;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Shortest reason accepted: enough for "INC-42 by alice", not for "yes". */
export const MIN_REASON_CHARS = 12;
const NOT_A_REASON = /^(true|false|yes|no|y|n|ok|1|0|on|off|override|force|skip)$/i;

/** Keys: promoteFrom, promotionOverride. A group validator (see config/schema.ts). */
export function validatePromotion(read: ConfigReader, id: Identity): PromotionConfig {
    const { stack, environment } = id;
    const from = read.string("promoteFrom")?.trim();
    if (from !== undefined) {
        const parts = from.split("/");
        const allowed = `a stack of this project (staging) or <org>/<project>/<stack> (organization/${PROJECT}/staging on a file:// backend, acme/${PROJECT}/staging on Pulumi Cloud)`;
        if ((parts.length !== 1 && parts.length !== 3) || !parts.every((p) => SEGMENT.test(p))) {
            read.problem(`${PROJECT}:promoteFrom: ${JSON.stringify(from)} is not a stack name. Allowed: ${allowed}. Fix: ${read.fix("promoteFrom", `organization/${PROJECT}/staging`)}`);
        } else if (parts[parts.length - 1] === stack && (parts.length === 1 || parts[1] === PROJECT)) {
            read.problem(
                `${PROJECT}:promoteFrom: ${JSON.stringify(from)} is this stack itself; a stack cannot verify its own promotion. Allowed: ${allowed}. Fix: pulumi config rm promoteFrom -s ${stack}`,
            );
        }
    }
    const promotes = from !== undefined || ENVIRONMENT_RULES[environment].promotesFrom !== undefined;

    const override = read.string("promotionOverride")?.trim();
    if (override !== undefined) {
        const example = `'INC-4711: hotfix for the checkout outage, approved by alice'`;
        if (!promotes) {
            read.problem(
                `${PROJECT}:promotionOverride is set, but ${environment} promotes from no stack, so there is nothing to override. Fix: pulumi config rm promotionOverride -s ${stack}`,
            );
        } else if (override.length < MIN_REASON_CHARS || NOT_A_REASON.test(override)) {
            read.problem(
                `${PROJECT}:promotionOverride: ${JSON.stringify(override)} is not a reason. An override deploys what upstream did not verify, so it must say why and who approved it. ` +
                    `Allowed: a sentence of at least ${MIN_REASON_CHARS} characters. Fix: ${read.fix("promotionOverride", example)}`,
            );
        }
    }
    return { from: from || undefined, override: override || undefined };
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
