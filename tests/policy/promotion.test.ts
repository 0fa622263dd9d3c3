// promotion-override: a stack whose config holds an override is reported on every preview, at
// advisory level even in prod, so the emergency change goes through and nobody misses it.
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
import { resolveContext } from "../../policy/environment";
import { packConfig } from "../../policy/pack";
import { analyzeStack, runStack, stackOf, stackPolicyNamed } from "./fixtures";

const REASON = "INC-4711: checkout outage hotfix, approved by alice";
const MESSAGE =
    `prod deploys with env-progression:promotionOverride "${REASON}": it may run what its upstream stack's smoke checks never verified ` +
    "(the stack output 'promotion' lists what the override let through). Fix: once the upstream has verified what this stack runs, pulumi config rm promotionOverride -s prod";

describe("promotion-override", () => {
    it("reports an override in the stack's config, naming the reason and how to remove it", async () => {
        const ctx = resolveContext("prod", "prod", undefined, REASON);
        const { diagnostics } = await analyzeStack("prod", stackOf("prod"), ctx);
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

    it("stays advisory where every other policy is mandatory, also when pinned by policy/config/prod.json", () => {
        expect(packConfig("prod")).toMatchObject({ all: "mandatory", "promotion-override": { enforcementLevel: "advisory" } });
    });

    it.each(ENVIRONMENTS)("reports nothing in %s without an override", async (env) => {
        expect(await runStack(stackPolicyNamed(env, "promotion-override"), stackOf(env))).toEqual({ violations: [], urns: [], notApplicable: undefined });
    });
});
