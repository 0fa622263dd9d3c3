// The promotion's policies, over the stack's config as the engine hands it to the pack. The
// program refuses the same things at preview from the records themselves; the pack says them
// again where the program cannot be trusted to (a modified program, an older checkout) and
// reports every override.
//
// promotion-source: a stack promotes only from the environment table's upstream, in this
//   project (the stack of that name, in this or another organization: a move). The environment's
//   level: mandatory in staging and prod.
// promotion-http-checks: where enforcement is mandatory the stack is verified by the HTTP checks,
//   never by smokeCommand alone, since its record is what the next environment (and its own
//   rollbacks) rely on.
// promotion-override: an update let past the promotion check is never silent. Advisory in every
//   environment: the override exists for an emergency change, which a mandatory violation would
//   block again; the program itself lets only the override's digest through, until it expires.
import { ENVIRONMENT_RULES, type EnvironmentName } from "../config/environments";
import { instantOf } from "../config/groups/promotion";
import { PROJECT } from "../config/schema";
import type { StackCheck, StackViolation } from "./define";
import { ENVIRONMENT_CONFIG, type PackContext } from "./environment";

export function promotionSourceProblems(environment: EnvironmentName, ctx: PackContext): StackViolation[] {
    const from = ctx.promoteFrom;
    if (from === undefined || from === "") return [];
    const stack = ctx.stack ?? "this stack";
    const upstream = ENVIRONMENT_RULES[environment].promotesFrom;
    const remove = `pulumi config rm promoteFrom -s ${stack}`;
    if (upstream === undefined) {
        return [{ message: `${stack} (${environment}) sets ${PROJECT}:promoteFrom ${JSON.stringify(from)}, but ${environment} promotes from no stack. Fix: ${remove}` }];
    }
    const parts = from.split("/");
    const project = parts.length === 3 ? parts[1] : PROJECT;
    const name = parts[parts.length - 1];
    if (project === PROJECT && name === upstream) return [];
    return [
        {
            message:
                `${stack} (${environment}) promotes from ${JSON.stringify(from)}, but ${environment} may promote only from ${upstream} of ${PROJECT} ` +
                `(the environment table's upstream; the stack named ${upstream}, in this or another organization). A record of another environment or project never verified what ${environment} runs. ` +
                `Fix: ${remove}`,
        },
    ];
}

export const promotionSource: StackCheck<{ environment: EnvironmentName }> = {
    name: "promotion-source",
    description:
        "The stack promotes only from the environment table's upstream (prod from staging, staging from dev) of this project, never from another environment's or project's record.",
    configSchema: ENVIRONMENT_CONFIG,
    check: (_resources, environment, _config, ctx) => promotionSourceProblems(environment, ctx),
};

export function promotionHttpChecksProblems(environment: EnvironmentName, ctx: PackContext): StackViolation[] {
    const command = ctx.smokeCommand;
    if (command === undefined || command === "" || ENVIRONMENT_RULES[environment].enforcement !== "mandatory") return [];
    const stack = ctx.stack ?? "this stack";
    return [
        {
            message:
                `${stack} (${environment}) replaces its HTTP smoke checks with ${PROJECT}:smokeCommand ${JSON.stringify(command)}: a command's exit status says nothing about what it tested, ` +
                `and ${environment}'s record is what the next environment deploys. Fix: pulumi config rm smokeCommand -s ${stack} (the default checks, or a committed smokeChecksFile)`,
        },
    ];
}

export const promotionHttpChecks: StackCheck<{ environment: EnvironmentName }> = {
    name: "promotion-http-checks",
    description: "Where enforcement is mandatory the stack is verified by the project's HTTP smoke checks, not by a smokeCommand alone: its record is what promotion trusts.",
    configSchema: ENVIRONMENT_CONFIG,
    check: (_resources, environment, _config, ctx) => promotionHttpChecksProblems(environment, ctx),
};

/** The override as configured: a map {reason, digest, expires}, or whatever text was set. */
function describeOverride(raw: string): string {
    try {
        const o = JSON.parse(raw) as unknown;
        if (typeof o === "object" && o !== null && !Array.isArray(o)) {
            const v = o as Record<string, unknown>;
            const expires = typeof v["expires"] === "string" ? (instantOf(v["expires"]) ?? v["expires"]) : String(v["expires"]);
            return `reason ${JSON.stringify(v["reason"])}, digest ${String(v["digest"])}, expires ${expires}`;
        }
    } catch {
        // Not JSON: a reason alone, as older configs held it; the program refuses it.
    }
    return JSON.stringify(raw);
}

export function promotionOverrideProblems(ctx: PackContext, now: Date = new Date()): StackViolation[] {
    const raw = ctx.promotionOverride;
    if (raw === undefined || raw === "") return [];
    const stack = ctx.stack ?? "this stack";
    let expired = "";
    try {
        const given = (JSON.parse(raw) as { expires?: unknown }).expires;
        const expires = typeof given === "string" ? instantOf(given) : undefined;
        if (expires !== undefined && Date.parse(expires) <= now.getTime()) expired = ` It expired at ${expires}: the program refuses it now.`;
    } catch {
        // Reported as given.
    }
    return [
        {
            message:
                `${stack} deploys with ${PROJECT}:promotionOverride (${describeOverride(raw)}): it may run an image its upstream stack's smoke checks never verified ` +
                `(the stack output 'promotion' lists what the override let through).${expired} Fix: once the upstream has verified what this stack runs, ` +
                `pulumi config rm promotionOverride -s ${stack}`,
        },
    ];
}

export const promotionOverride: StackCheck<object> = {
    name: "promotion-override",
    description:
        "No promotion override is left in place: a stack with promotionOverride may run an image its upstream's smoke checks never verified. " +
        "Advisory, so the emergency change the override is for still goes through.",
    enforcementLevel: "advisory",
    check: (_resources, _environment, _config, ctx) => promotionOverrideProblems(ctx),
};
