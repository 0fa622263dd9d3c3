// The promotion policies over the stack's config, each judged through the engine's analyzer
// protocol: promotion-source (only the table's upstream, mandatory in prod), promotion-http-checks
// (no smokeCommand where enforcement is mandatory) and promotion-override (reported in every
// environment, advisory even in prod so the emergency change goes through).
import type { StackValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, type EnvironmentName } from "../../config/environments";
import { type PackContext, resolveContext } from "../../policy/environment";
import { packConfig, policies } from "../../policy/pack";
import { promotionOverrideProblems } from "../../policy/promotion";
import { analyzeStack, runStack, stackOf, stackPolicyNamed } from "./fixtures";

const OVERRIDE = { reason: "INC-4711: checkout outage hotfix, approved by alice", digest: "sha256:" + "a".repeat(64), expires: "2026-12-09T18:00:00Z" };
const OVERRIDE_TEXT = JSON.stringify(OVERRIDE);
const promotion = (env: EnvironmentName, settings: { promoteFrom?: string; smokeCommand?: string; override?: string }) =>
    resolveContext(env, env, undefined, settings.override, { promoteFrom: settings.promoteFrom, smokeCommand: settings.smokeCommand });
const policyIn = (ctx: PackContext, name: string) => policies(ctx).find((p) => p.name === name) as StackValidationPolicy;
/** The diagnostics of one policy, as the engine would report them for a whole preview. */
async function reported(env: EnvironmentName, ctx: PackContext, name: string) {
    const { diagnostics } = await analyzeStack(env, stackOf(env), ctx);
    return diagnostics.filter((d) => d.policy === name).map((d) => ({ level: d.level, message: d.message.split("\n")[1] }));
}

describe("promotion-source", () => {
    it("is mandatory in prod: a record of dev (promoteFrom dev) is refused, naming the upstream", async () => {
        expect(await reported("prod", promotion("prod", { promoteFrom: "dev" }), "promotion-source")).toEqual([
            {
                level: "mandatory",
                message:
                    'prod (prod) promotes from "dev", but prod may promote only from staging of env-progression (the environment table\'s upstream; the stack named staging, in this or another organization). ' +
                    "A record of another environment or project never verified what prod runs. Fix: pulumi config rm promoteFrom -s prod",
            },
        ]);
        expect(packConfig("prod")).toMatchObject({ all: "mandatory", "promotion-source": { environment: "prod" } });
    });

    it.each([["organization/billing/staging"], ["acme/env-progression/staging-eu"], ["organization/env-progression/dev"]])("refuses %s in prod", async (from) => {
        const r = await runStack(policyIn(promotion("prod", { promoteFrom: from }), "promotion-source"), stackOf("prod"));
        expect(r.violations).toEqual([expect.stringContaining(`prod (prod) promotes from "${from}", but prod may promote only from staging of env-progression`)]);
    });

    it("accepts staging in this or another organization (a move), and no promoteFrom at all", async () => {
        for (const from of [undefined, "staging", "organization/env-progression/staging", "acme/env-progression/staging"]) {
            const r = await runStack(policyIn(promotion("prod", from ? { promoteFrom: from } : {}), "promotion-source"), stackOf("prod"));
            expect(r.violations, String(from)).toEqual([]);
        }
    });

    it("refuses promoteFrom in dev, which promotes from nothing; advisory there", async () => {
        expect(await reported("dev", promotion("dev", { promoteFrom: "staging" }), "promotion-source")).toEqual([
            { level: "advisory", message: 'dev (dev) sets env-progression:promoteFrom "staging", but dev promotes from no stack. Fix: pulumi config rm promoteFrom -s dev' },
        ]);
    });
});

describe("promotion-http-checks", () => {
    it("refuses smokeCommand in staging (mandatory), and leaves dev alone", async () => {
        expect(await reported("staging", promotion("staging", { smokeCommand: "true" }), "promotion-http-checks")).toEqual([
            {
                level: "mandatory",
                message:
                    'staging (staging) replaces its HTTP smoke checks with env-progression:smokeCommand "true": a command\'s exit status says nothing about what it tested, ' +
                    "and staging's record is what the next environment deploys. Fix: pulumi config rm smokeCommand -s staging (the default checks, or a committed smokeChecksFile)",
            },
        ]);
        expect((await runStack(policyIn(promotion("dev", { smokeCommand: "true" }), "promotion-http-checks"), stackOf("dev"))).violations).toEqual([]);
        expect((await runStack(policyIn(promotion("prod", {}), "promotion-http-checks"), stackOf("prod"))).violations).toEqual([]);
    });
});

describe("promotion-override", () => {
    const MESSAGE =
        `prod deploys with env-progression:promotionOverride (reason "${OVERRIDE.reason}", digest ${OVERRIDE.digest}, expires ${OVERRIDE.expires}): ` +
        "it may run an image its upstream stack's smoke checks never verified (the stack output 'promotion' lists what the override let through). " +
        "Fix: once the upstream has verified what this stack runs, pulumi config rm promotionOverride -s prod";

    it("reports an override in the stack's config, naming its reason, digest and expiry and how to remove it", async () => {
        const { diagnostics } = await analyzeStack("prod", stackOf("prod"), promotion("prod", { override: OVERRIDE_TEXT }));
        expect(diagnostics).toEqual([
            {
                policy: "promotion-override",
                level: "advisory",
                urn: "",
                message: expect.stringMatching(/^No promotion override is left in place: .*\n/) as string,
            },
        ]);
        expect(diagnostics[0]!.message.split("\n")[1]).toBe(MESSAGE);
    });

    it("reads the expiry as the engine hands over an unquoted YAML timestamp", () => {
        const ctx = promotion("prod", { override: JSON.stringify({ ...OVERRIDE, expires: "2026-12-09 18:00:00 +0000 UTC" }) });
        const [v] = promotionOverrideProblems(ctx, new Date("2026-12-10T00:00:00Z"));
        expect(v!.message).toContain("expires 2026-12-09T18:00:00.000Z)");
        expect(v!.message).toContain("It expired at 2026-12-09T18:00:00.000Z");
    });

    it("says when it has expired, which the program then refuses", () => {
        const ctx = promotion("prod", { override: OVERRIDE_TEXT });
        expect(promotionOverrideProblems(ctx, new Date("2026-12-10T00:00:00Z"))[0]!.message).toContain(" It expired at 2026-12-09T18:00:00Z: the program refuses it now.");
        expect(promotionOverrideProblems(ctx, new Date("2026-12-08T00:00:00Z"))[0]!.message).not.toContain("expired");
    });

    it.each(ENVIRONMENTS)("reports it in %s too, advisory", async (env) => {
        const levels = (await reported(env, promotion(env, { override: OVERRIDE_TEXT }), "promotion-override")).map((d) => d.level);
        expect(levels).toEqual(["advisory"]);
    });

    it("stays advisory where every other policy is mandatory, also when pinned by policy/config/prod.json", () => {
        expect(packConfig("prod")).toMatchObject({ all: "mandatory", "promotion-override": { enforcementLevel: "advisory" } });
    });

    it.each(ENVIRONMENTS)("reports nothing in %s without an override", async (env) => {
        expect(await runStack(stackPolicyNamed(env, "promotion-override"), stackOf(env))).toEqual({ violations: [], urns: [], notApplicable: undefined });
    });
});
