// Parity on plain data: the rules (defaults, the committed file, a file's problems), how a key
// finds its rule, and the matrix over three stacks with the seed's drift in it. Secrets enter as
// keyed fingerprints and must never come out, in text or JSON.
import { createHmac, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import type { EnvironmentName } from "../../config/environments";
import { flattenConfig, formatParity, parityJson, parityMatrix, type RawConfigValue } from "../../promotion/parity";
import { configCommand, DEFAULT_RULES, judgeKey, loadRules, parseRules, RULES_FILE, ruleFor, RulesError } from "../../promotion/rules";

const P = "env-progression";
const DEV_TOKEN = "dev-token-4f1c2a9be07d";
const key = randomBytes(32);
const fingerprint = (v: string) => createHmac("sha256", key).update(v).digest("hex");

/** A stack's config as `pulumi config --show-secrets --json` gives it. */
function stackConfig(env: EnvironmentName, over: Record<string, RawConfigValue> = {}): Record<string, RawConfigValue> {
    const plain = (v: unknown) => ({ value: typeof v === "string" ? v : JSON.stringify(v), secret: false });
    const flags = { dev: { newCheckout: true, searchV2: true }, staging: { newCheckout: true, searchV2: false }, prod: { newCheckout: true, searchV2: false } }[
        env
    ];
    return {
        [`${P}:environment`]: plain(env),
        [`${P}:replicas`]: plain(String({ dev: 1, staging: 3, prod: 50 }[env])),
        [`${P}:featureFlags`]: plain(flags),
        [`${P}:env`]: plain({ LOG_LEVEL: env === "dev" ? "debug" : "info" }),
        [`${P}:secretEnv`]: plain(["DATABASE_URL", "API_TOKEN"]),
        [`${P}:DATABASE_URL`]: { value: `postgres://app:${env}-pw@db.${env}:5432/app`, secret: true },
        [`${P}:API_TOKEN`]: { value: env === "dev" ? DEV_TOKEN : `${env}-token-${env.length}`, secret: true },
        ...over,
    };
}
const entries = (env: EnvironmentName, over?: Record<string, RawConfigValue>) => flattenConfig(env, env, stackConfig(env, over), P, fingerprint);
const committed = loadRules();

describe("parity rules", () => {
    it("by default: flags and the migration version must match in staging and prod, secrets must differ everywhere, sizes and URLs are free, unknown keys must match", () => {
        const cls = (k: string, secret = false) => {
            const r = ruleFor(DEFAULT_RULES, k, secret);
            return [r.class, r.environments ?? "all", r.from];
        };
        expect(cls("featureFlags.newCheckout")).toEqual(["must-match", ["staging", "prod"], "featureFlags.*"]);
        expect(cls("migrationVersion")).toEqual(["must-match", ["staging", "prod"], "migrationVersion"]);
        expect(cls("env.PAYMENT_URL")).toEqual(["must-match", ["staging", "prod"], "env.*"]);
        expect(cls("port")).toEqual(["must-match", ["staging", "prod"], "port"]);
        expect(cls("DATABASE_URL", true)).toEqual(["must-differ", "all", "secrets"]);
        for (const free of ["replicas", "cpuRequest", "memoryLimit", "smokeBaseUrl", "kubeServer", "image", "egress", "namespace", "promotionOverride"]) {
            expect(cls(free), free).toEqual(["free", "all", free]);
        }
        expect(cls("someNewKey")).toEqual(["must-match", ["staging", "prod"], "unknownKeys"]);
        expect(cls("aws:region")).toEqual(["must-match", ["staging", "prod"], "unknownKeys"]);
    });

    it("takes the most specific rule: the exact key, then the longest prefix, then the secret rule", () => {
        const rules = parseRules(
            JSON.stringify({
                keys: {
                    "featureFlags.searchV2": { class: "free", reason: "rolled out in prod first, on purpose" },
                    SHARED_CA: { class: "free", reason: "the same public CA everywhere" },
                },
            }),
            "rules.json",
        );
        expect(ruleFor(rules, "featureFlags.searchV2", false)).toMatchObject({ class: "free", from: "featureFlags.searchV2" });
        expect(ruleFor(rules, "featureFlags.newCheckout", false)).toMatchObject({ class: "must-match", from: "featureFlags.*" });
        expect(ruleFor(rules, "SHARED_CA", true)).toMatchObject({ class: "free", from: "SHARED_CA" });
        expect(rules.source).toBe("rules.json over the default rules");
    });

    it("the committed file loads, states the flag rule with its reason, and lets log levels differ", () => {
        expect(RULES_FILE).toMatch(/parity-rules\.json$/);
        expect(JSON.parse(fs.readFileSync(RULES_FILE, "utf8"))).toHaveProperty("$comment");
        expect(ruleFor(committed, "featureFlags.x", false)).toMatchObject({
            class: "must-match",
            environments: ["staging", "prod"],
            reason: expect.stringContaining("staging rehearses prod"),
        });
        expect(ruleFor(committed, "env.LOG_LEVEL", false)).toMatchObject({ class: "free" });
        expect(committed.file).toBe("parity-rules.json");
    });

    it("reports every problem of a rules file at once, each with what is allowed", () => {
        const err = (() => {
            try {
                parseRules(
                    JSON.stringify({
                        key: {},
                        keys: {
                            "flags.**": "free",
                            replicas: { class: "same" },
                            port: { class: "must-match", environments: ["prod"], reason: "fine reason here" },
                            "x.y": "free",
                        },
                    }),
                    "rules.json",
                );
            } catch (e) {
                return e as RulesError;
            }
            throw new Error("no error");
        })();
        expect(err).toBeInstanceOf(RulesError);
        expect(err.problems).toEqual([
            '"key": unknown field. Allowed: $comment, keys, secrets, unknownKeys',
            'keys."flags.**": not a key or pattern. Allowed: a config key without the project prefix (replicas, featureFlags.newCheckout) or a prefix ending in .* (featureFlags.*)',
            'keys."replicas".class: "same" is not a class. Allowed: must-match, must-differ, free',
            'keys."port".environments: ["prod"] is not allowed. Allowed: two or more distinct environments of dev, staging, prod, or leave it out for all',
            'keys."x.y".reason is missing. Allowed: a sentence saying why (a rules file is read when a check is bypassed)',
        ]);
        expect(() => parseRules("{", "r.json")).toThrow(/^r\.json has 1 problem:\n {2}- not valid JSON/);
        expect(() => loadRules("/nonexistent/rules.json")).toThrow(/cannot be read \(ENOENT\)\. Fix: give the path of a rules file/);
    });

    it("writes fixes as commands: set with --path for nested keys, rm for an unset reference, --secret for secrets", () => {
        expect(configCommand("featureFlags.newCheckout", "prod", "true")).toBe("pulumi config set --path 'featureFlags.newCheckout' true -s prod");
        expect(configCommand("replicas", "prod", "3")).toBe("pulumi config set replicas 3 -s prod");
        expect(configCommand("env.GREETING", "prod", "hello world")).toBe("pulumi config set --path 'env.GREETING' 'hello world' -s prod");
        expect(configCommand("featureFlags.x", "prod", undefined)).toBe("pulumi config rm --path 'featureFlags.x' -s prod");
        expect(configCommand("API_TOKEN", "prod", "<a new value>", true)).toBe("pulumi config set --secret API_TOKEN '<a new value>' -s prod");
    });

    it("judges must-differ across every environment, must-match only within its environments", () => {
        const v = (stack: EnvironmentName, compare: string | undefined) => ({ stack, environment: stack, compare, display: compare ?? "" });
        const secretRule = ruleFor(DEFAULT_RULES, "API_TOKEN", true);
        expect(judgeKey("API_TOKEN", secretRule, [v("dev", "f1"), v("staging", "f2"), v("prod", "f1")])?.stacks).toEqual(["dev", "prod"]);
        expect(judgeKey("API_TOKEN", secretRule, [v("dev", "f1"), v("staging", "f2"), v("prod", undefined)])).toBeUndefined();
        const flagRule = ruleFor(DEFAULT_RULES, "featureFlags.searchV2", false);
        expect(judgeKey("featureFlags.searchV2", flagRule, [v("dev", "true"), v("staging", "false"), v("prod", "false")])).toBeUndefined();
        expect(judgeKey("featureFlags.searchV2", flagRule, [v("dev", "false"), v("staging", "true"), v("prod", "false")])?.stacks).toEqual(["staging", "prod"]);
    });
});

describe("flattenConfig", () => {
    it("drops the project prefix, spreads maps into one key per entry, keeps lists whole, and keeps only a fingerprint of a secret", () => {
        const seen: string[] = [];
        const e = flattenConfig("dev", "dev", stackConfig("dev", { "aws:region": { value: "eu-west-1", secret: false } }), P, (v) => (seen.push(v), "fp"));
        expect([...e.entries.keys()].sort()).toEqual(
            [
                "API_TOKEN",
                "DATABASE_URL",
                "aws:region",
                "env.LOG_LEVEL",
                "environment",
                "featureFlags.newCheckout",
                "featureFlags.searchV2",
                "replicas",
                "secretEnv",
            ].sort(),
        );
        expect(e.entries.get("featureFlags.searchV2")).toEqual({ secret: false, compare: "true", display: "true" });
        expect(e.entries.get("secretEnv")).toEqual({ secret: false, compare: '["DATABASE_URL","API_TOKEN"]', display: '["DATABASE_URL","API_TOKEN"]' });
        expect(e.entries.get("API_TOKEN")).toEqual({ secret: true, fingerprint: "fp" });
        expect(seen.sort()).toEqual([DEV_TOKEN, "postgres://app:dev-pw@db.dev:5432/app"].sort());
    });
});

describe("the parity matrix", () => {
    // The seed's failures: the config used a dev secret, and a flag on in staging is off in prod.
    const report = parityMatrix(
        [
            entries("dev"),
            entries("staging", { [`${P}:featureFlags`]: { value: JSON.stringify({ newCheckout: true, searchV2: true }), secret: false } }),
            entries("prod", { [`${P}:API_TOKEN`]: { value: DEV_TOKEN, secret: true } }),
        ],
        committed,
    );
    const row = (k: string) => report.rows.find((r) => r.key === k)!;

    it("marks each key same, differs, missing or secret-reused, and finds exactly the two violations", () => {
        expect(row("featureFlags.newCheckout")).toMatchObject({ status: "same", values: { dev: "true", staging: "true", prod: "true" } });
        expect(row("replicas")).toMatchObject({ status: "differs", values: { dev: "1", staging: "3", prod: "50" } });
        expect(row("replicas").violation).toBeUndefined();
        expect(row("DATABASE_URL")).toMatchObject({ status: "differs", secret: true, values: { dev: "<secret>", staging: "<secret>", prod: "<secret>" } });
        expect(row("API_TOKEN")).toMatchObject({ status: "secret-reused", secret: true });
        expect(report.violations.map((v) => [v.key, v.kind, v.stacks])).toEqual([
            ["API_TOKEN", "secret-reused", ["dev", "prod"]],
            ["featureFlags.searchV2", "differs", ["staging", "prod"]],
        ]);
        expect(report.violations[0]!.message).toBe(
            "API_TOKEN holds the same secret value in dev and prod (compared as keyed hashes in memory; neither the value nor a hash is shown). " +
                "Every environment needs its own: a secret leaked from one would open the other. Fix: pulumi config set --secret API_TOKEN '<a new value>' -s prod, then revoke the shared value",
        );
        expect(report.violations[1]!.message).toContain(
            "featureFlags.searchV2 must match in staging and prod, but staging has true, prod has false (staging rehearses prod: a flag on in staging and off in prod ships a path nobody tested). " +
                "Fix: pulumi config set --path 'featureFlags.searchV2' true -s prod",
        );
    });

    it("marks a key set in some stacks only as missing, and never shows an empty value like an unset one", () => {
        const m = parityMatrix(
            [
                entries("staging", { [`${P}:kubeServer`]: { value: "", secret: false } }),
                entries("prod", { [`${P}:smokeDeadline`]: { value: "300s", secret: false } }),
            ],
            committed,
        );
        expect(m.rows.find((r) => r.key === "smokeDeadline")).toMatchObject({ status: "missing", values: { staging: undefined, prod: "300s" } });
        expect(m.violations).toEqual([]);
        expect(formatParity(m)).toMatch(/\nkubeServer +free +"" +- +missing\n/);
        expect(formatParity(m)).toMatch(/\nsmokeDeadline +free +- +300s +missing\n/);
    });

    it("prints a table and each violation with its fix, never a secret value or a fingerprint", () => {
        const text = formatParity(report);
        expect(text.split("\n")[0]).toBe("parity of dev, staging, prod; rules: parity-rules.json over the default rules");
        expect(text).toMatch(/\nKEY +CLASS +dev +staging +prod +STATUS\n/);
        expect(text).toMatch(/\nAPI_TOKEN +must-differ +<secret> +<secret> +<secret> +secret-reused {2}VIOLATION\n/);
        expect(text).toMatch(/\nfeatureFlags\.searchV2 +must-match \(staging, prod\) +true +true +false +differs {2}VIOLATION\n/);
        expect(text).toMatch(/\nreplicas +free +1 +3 +50 +differs\n/);
        expect(text).toMatch(/\n2 violations:\n {2}- API_TOKEN holds the same secret value in dev and prod/);
        const json = JSON.stringify(parityJson(report));
        for (const out of [text, json]) {
            expect(out).not.toContain(DEV_TOKEN);
            expect(out).not.toContain("dev-pw");
            expect(out).not.toMatch(/[0-9a-f]{64}/);
            for (const e of [entries("dev"), entries("prod")]) for (const v of e.entries.values()) if (v.secret) expect(out).not.toContain(v.fingerprint);
        }
        expect(JSON.parse(json)).toMatchObject({
            ok: false,
            rows: expect.arrayContaining([
                {
                    key: "API_TOKEN",
                    class: "must-differ",
                    ruleFrom: "secrets",
                    secret: true,
                    values: { dev: "<secret>", staging: "<secret>", prod: "<secret>" },
                    status: "secret-reused",
                    violation: expect.any(String),
                },
            ]),
            violations: [
                expect.objectContaining({ key: "API_TOKEN", kind: "secret-reused", stacks: ["dev", "prod"] }),
                expect.objectContaining({ key: "featureFlags.searchV2" }),
            ],
        });
    });

    it("finds nothing on the committed configuration's shape", () => {
        const clean = parityMatrix([entries("dev"), entries("staging"), entries("prod")], committed);
        expect(clean.violations).toEqual([]);
        expect(formatParity(clean)).toMatch(/no violations: \d+ keys, every one within its rule$/);
    });
});
