// The pack's shape and its per-environment config: enforcement and environments come from
// config/environments.ts, the committed policy/config/<env>.json files say the same, and the
// stack the engine previews decides when no file is given.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { enforcementFor, resolveContext } from "../../policy/environment";
import { packArgs, packConfig, policies } from "../../policy/pack";
import { configFile, configText } from "../../policy/writeConfig";

const ROOT = path.resolve(__dirname, "../..");

describe("policy/config/<env>.json", () => {
    it.each(ENVIRONMENTS)("%s.json is what packConfig() writes (toolchain/run tsx policy/writeConfig.ts)", (env) => {
        expect(fs.readFileSync(configFile(env), "utf8")).toBe(configText(env));
    });

    it.each(ENVIRONMENTS)("%s.json sets the environment's enforcement level for all policies", (env) => {
        expect(packConfig(env)["all"]).toBe(ENVIRONMENT_RULES[env].enforcement);
    });

    it("pins the environment of every policy that judges by one, and names only real policies", () => {
        const names = new Set(policies(resolveContext("prod", "prod")).map((p) => p.name));
        const config = packConfig("prod");
        for (const key of Object.keys(config)) expect(key === "all" || names.has(key)).toBe(true);
        expect(Object.entries(config).filter(([k]) => k !== "all")).toEqual([
            ["namespace-labels", { environment: "prod" }],
            ["image-pinned", { environment: "prod" }],
            ["replicas-minimum", { environment: "prod" }],
            ["pdb-allows-drain", { environment: "prod" }],
            ["pdb-allows-drain-at-replicas", { environment: "prod" }],
            ["stack-environment", { environment: "prod" }],
            ["promotion-source", { environment: "prod" }],
            ["promotion-http-checks", { environment: "prod" }],
            // Its own level survives `all: mandatory`: an override is reported, never blocked again.
            ["promotion-override", { enforcementLevel: "advisory" }],
        ]);
    });
});

describe("enforcement derived from the stack", () => {
    it.each([
        ["dev", "dev", "advisory"],
        ["staging", "staging", "mandatory"],
        ["prod", "prod", "mandatory"],
        ["preview-7", "staging", "mandatory"],
        ["preview-7", undefined, "mandatory"], // unknown environment: fail closed
    ] as const)("stack %s with environment config %s -> %s", (stack, env, level) => {
        expect(packArgs(resolveContext(stack, env)).enforcementLevel).toBe(level);
        expect(enforcementFor(resolveContext(stack, env))).toBe(level);
    });

    it("prefers the stack's environment config to its name, and takes the name otherwise", () => {
        expect(resolveContext("prod", "staging")).toMatchObject({ environment: "staging", source: "stack config env-progression:environment" });
        expect(resolveContext("dev", undefined)).toMatchObject({ environment: "dev", source: 'stack name "dev"' });
        expect(resolveContext("qa", "prd").environment).toBeUndefined();
    });

    it("reads the stack name and config the engine passes to a policy pack process", () => {
        const out = execFileSync(process.execPath, ["--import", "tsx", "-e", 'console.log(JSON.stringify(require("./policy/environment").engineContext()))'], {
            cwd: ROOT,
            env: {
                ...process.env,
                PULUMI_NODEJS_STACK: "preview-7",
                PULUMI_CONFIG: JSON.stringify({
                    "env-progression:environment": "staging",
                    "env-progression:ingressNamespace": "traefik",
                    "env-progression:promotionOverride": " INC-4711: hotfix approved by alice ",
                    "env-progression:promoteFrom": " dev ",
                    "env-progression:smokeCommand": "./smoke.sh",
                }),
            },
            encoding: "utf8",
        });
        expect(JSON.parse(out)).toEqual({
            stack: "preview-7",
            stackEnvironment: "staging",
            ingressNamespace: "traefik",
            promotionOverride: "INC-4711: hotfix approved by alice",
            promoteFrom: "dev",
            smokeCommand: "./smoke.sh",
            environment: "staging",
            source: "stack config env-progression:environment",
        });
    });
});

describe("the pack", () => {
    const all = policies(resolveContext("prod", "prod"));

    it("has unique names, a description and no reserved config key on every policy", () => {
        expect(new Set(all.map((p) => p.name)).size).toBe(all.length);
        for (const p of all) {
            expect(p.name).not.toBe("all");
            expect(p.description.length).toBeGreaterThan(40);
            expect(Object.keys(p.configSchema?.properties ?? {})).not.toContain("enforcementLevel");
        }
    });

    it("lists every resource and stack policy of the pack, in order", () => {
        expect(all.map((p) => [p.name, "validateStack" in p ? "stack" : "resource"])).toEqual([
            ["namespace-labels", "resource"],
            ["networkpolicy-namespace-selector", "resource"],
            ["image-pinned", "resource"],
            ["replicas-minimum", "resource"],
            ["resources-set", "resource"],
            ["restricted-security-context", "resource"],
            ["probes-present", "resource"],
            ["pdb-allows-drain", "resource"],
            ["service-not-loadbalancer", "resource"],
            ["no-plain-secrets", "resource"],
            ["environment-isolated", "stack"],
            ["default-deny-per-namespace", "stack"],
            ["pdb-allows-drain-at-replicas", "stack"],
            ["smoke-test-per-app", "stack"],
            ["live-traffic-after-checks", "stack"],
            ["stack-environment", "stack"],
            ["promotion-source", "stack"],
            ["promotion-http-checks", "stack"],
            ["promotion-override", "stack"],
        ]);
    });

    it("is a nodejs policy pack whose version the CLI can read", () => {
        const project = parse(fs.readFileSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"), "utf8")) as { runtime: { name: string } };
        expect(project.runtime.name).toBe("nodejs");
        // PolicyPack reads the version from package.json in its working directory (the pack's).
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8")) as { version: string; dependencies?: Record<string, string> };
        expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
        // Declared for the published form (policy/build.ts); in the repository they resolve from the
        // root's node_modules, so they must be the root's exact pins.
        const root = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
        expect(pkg.dependencies).toEqual({ "@pulumi/policy": root.dependencies["@pulumi/policy"], "@pulumi/pulumi": root.dependencies["@pulumi/pulumi"] });
    });
});
