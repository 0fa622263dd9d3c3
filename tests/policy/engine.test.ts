// Through @pulumi/policy's analyzer RPC handlers, as the engine calls them: protobuf requests in,
// diagnostics with their enforcement level out. This is where "advisory in dev, mandatory in
// staging and prod" is visible, and where not-applicable policies are listed.
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { analyze, analyzeStack, appDeployment, manifestOf, stackOf } from "./fixtures";

describe("the pack behind the analyzer RPC", () => {
    it("blocks latest in prod: one mandatory diagnostic on the Deployment", async () => {
        const d = manifestOf("prod", "Deployment");
        d.spec.template.spec.containers[0].image = "ghcr.io/env-progression/web:latest";
        const { diagnostics } = await analyze("prod", d);
        // The CLI prints the policy's description (why it matters), then the violation (what and how to fix).
        expect(diagnostics).toEqual([
            {
                policy: "image-pinned",
                level: "mandatory",
                urn: "", // a resource violation is always about the resource analyzed
                message:
                    "Images are pinned as the environment requires (config/environments.ts): an explicit tag, never `latest`, outside dev, and a digest in prod, so what runs is exactly what was tested and a node pulling again cannot get different bytes.\n" +
                    `Deployment ${appDeployment("prod")} container "app": "ghcr.io/env-progression/web:latest" is tagged latest; prod must run an exact version. Allowed: an explicit version tag and a digest. Fix: pin the image as name:tag@sha256:<digest> (this program: pulumi config set image <ref> -s prod).`,
            },
        ]);
    });

    it.each(ENVIRONMENTS)("reports at %s's enforcement level from config/environments.ts", async (env) => {
        const d = manifestOf(env, "Deployment");
        delete d.spec.template.spec.containers[0].livenessProbe;
        const { diagnostics } = await analyze(env, d);
        expect(diagnostics.map((x) => [x.policy, x.level])).toEqual([["probes-present", ENVIRONMENT_RULES[env].enforcement]]);
    });

    it("lists every policy that does not apply to a resource as not applicable", async () => {
        const { diagnostics, notApplicable } = await analyze("prod", manifestOf("prod", "Service"));
        expect(diagnostics).toEqual([]);
        expect(notApplicable.map((n) => n.policy).sort()).toEqual(
            [
                "image-pinned",
                "namespace-labels",
                "networkpolicy-namespace-selector",
                "pdb-allows-drain",
                "probes-present",
                "replicas-minimum",
                "resources-set",
                "restricted-security-context",
                "no-plain-secrets",
            ].sort(),
        );
    });

    it("passes every committed stack's objects and whole stack", async () => {
        for (const env of ENVIRONMENTS) {
            for (const r of stackOf(env)) {
                if (r.type.startsWith("kubernetes:")) expect((await analyze(env, r.props, r.type)).diagnostics).toEqual([]);
            }
            expect((await analyzeStack(env, stackOf(env))).diagnostics).toEqual([]);
        }
    });

    it("attaches a stack violation to the resource at fault, at the environment's level", async () => {
        // Without a SmokeTest the app is unverified, and the live switch waits for no check.
        const resources = stackOf("dev").filter((r) => !r.name.includes("-smoke"));
        const { diagnostics } = await analyzeStack("dev", resources);
        expect(diagnostics.map((d) => [d.policy, d.level, d.urn])).toEqual([
            ["smoke-test-per-app", "advisory", "urn:pulumi:test::env-progression::kubernetes:apps/v1:Deployment::dev-app"],
            ["live-traffic-after-checks", "advisory", "urn:pulumi:test::env-progression::pulumi-nodejs:dynamic/progression:LiveSwitch::dev-live-run"],
        ]);
    });
});
